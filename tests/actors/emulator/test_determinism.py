"""Same seed and same requests -> the same ledger, faults included."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from actors.emulator import FaultRule
from tests.actors.emulator.support import connect, signed

RULES = (
    FaultRule(kind="partial_fill", probability=0.5, fraction=0.3),
    FaultRule(kind="drop_after_accept", endpoint="/api/v3/order", method="POST",
              probability=0.3),
    FaultRule(kind="http_5xx", endpoint="/api/v3/myTrades", probability=0.5, status=503),
)


def session(make_emulator, seed: int) -> tuple[dict[str, Any], list[str]]:
    emulator = make_emulator(seed=seed, faults=RULES, balances={"USDT": 50_000.0})
    exchange = connect(emulator)
    outcomes = []
    for step in range(12):
        side = "buy" if step % 3 != 2 else "sell"
        try:
            exchange.create_order("ETH/USDT", "market", side, 0.5,
                                  params={"newClientOrderId": f"det-{step}"})
            outcomes.append("ok")
        except (ccxt.NetworkError, ccxt.InsufficientFunds) as exc:
            outcomes.append(type(exc).__name__)
        try:
            exchange.fetch_my_trades("ETH/USDT")
        except ccxt.NetworkError as exc:
            outcomes.append(type(exc).__name__)
        emulator.clock.advance_bars(1)
    signed(emulator, "POST", "/api/v3/order", symbol="ETHUSDT", side="BUY", type="MARKET",
           quantity="0.1")  # no newClientOrderId: the venue generates one (seeded)
    return emulator.ledger.snapshot(), outcomes


def test_same_seed_same_ledger(make_emulator) -> None:
    first, outcomes = session(make_emulator, seed=11)
    again, outcomes_again = session(make_emulator, seed=11)
    assert first == again and outcomes == outcomes_again
    assert {e["kind"] for e in first["faults"]} == {"partial_fill", "drop_after_accept",
                                                    "http_5xx"}
    other, _ = session(make_emulator, seed=12)
    assert other != first
    assert any(o["status"] == "FILLED" and len(o["tradeIds"]) == 2 for o in first["orders"])
    generated = first["orders"][-1]["clientOrderId"]
    assert len(generated) == 22 and generated == again["orders"][-1]["clientOrderId"]


@pytest.mark.parametrize("path", ["/emulator/ledger", "/emulator/clock"])
def test_control_reads(emulator, path: str) -> None:
    import requests

    body = requests.get(f"{emulator.url}{path}", timeout=5).json()
    assert body["now_ms"] == emulator.clock.now_ms()
