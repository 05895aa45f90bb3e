"""The bar rules of actors.emulator.matching on hand-made bars (no server)."""

from __future__ import annotations

import pytest

from actors.emulator.matching import FillModel, evaluate, marketable, would_trigger
from actors.emulator.orders import Order
from configs.backtest import CostsConfig

MODEL = FillModel(CostsConfig(half_spread_bps=10.0))
SLIP = 0.001  # impact 0: the half-spread only


def order(kind: str, side: str, price: float | None = None, stop: float | None = None) -> Order:
    return Order("BTCUSDT", 1, "t", side, kind, "GTC", 1.0, price, stop, None, 0)


@pytest.mark.parametrize(
    ("kind", "side", "price", "stop", "bar", "expected"),
    [
        # resting limits: a gap fills at the (better) open, a touch at the limit, maker fee
        ("LIMIT", "BUY", 100.0, None, (99.0, 101.0, 98.0), (99.0, True, True)),
        ("LIMIT", "BUY", 100.0, None, (101.0, 102.0, 100.0), (100.0, True, False)),
        ("LIMIT", "BUY", 100.0, None, (101.0, 102.0, 100.5), None),
        ("LIMIT_MAKER", "SELL", 100.0, None, (101.0, 102.0, 100.5), (101.0, True, True)),
        ("LIMIT", "SELL", 100.0, None, (99.0, 100.0, 98.0), (100.0, True, False)),
        # stop-loss (market when triggered): the level or the gap open, moved by slippage
        ("STOP_LOSS", "SELL", None, 95.0, (94.0, 96.0, 93.0), (94.0 * (1 - SLIP), False, True)),
        ("STOP_LOSS", "SELL", None, 95.0, (97.0, 98.0, 94.0), (95.0 * (1 - SLIP), False, False)),
        ("STOP_LOSS", "BUY", None, 105.0, (104.0, 106.0, 103.0),
         (105.0 * (1 + SLIP), False, False)),
        ("TAKE_PROFIT", "SELL", None, 105.0, (106.0, 107.0, 105.5),
         (106.0 * (1 - SLIP), False, True)),
        # stop-limit: a taker fill capped at the limit, or rest if the trigger is past it
        ("STOP_LOSS_LIMIT", "SELL", 94.0, 95.0, (97.0, 98.0, 90.0),
         (95.0 * (1 - SLIP), False, False)),
        ("STOP_LOSS_LIMIT", "SELL", 94.98, 95.0, (97.0, 98.0, 90.0), (94.98, False, False)),
        ("STOP_LOSS_LIMIT", "SELL", 94.0, 95.0, (93.0, 94.0, 90.0), "rest"),
        # take-profit limit: the backtester's take-profit, max(open, level), maker fee
        ("TAKE_PROFIT_LIMIT", "SELL", 105.0, 105.0, (104.0, 106.0, 103.0), (105.0, True, False)),
        ("TAKE_PROFIT_LIMIT", "SELL", 105.0, 105.0, (107.0, 108.0, 106.0), (107.0, True, True)),
        ("TAKE_PROFIT_LIMIT", "BUY", 95.0, 95.0, (96.0, 97.0, 94.0), (95.0, True, False)),
        ("TAKE_PROFIT_LIMIT", "SELL", 110.0, 105.0, (104.0, 106.0, 103.0), "rest"),
    ],
)
def test_bar_rules(kind: str, side: str, price: float | None, stop: float | None,
                   bar: tuple[float, float, float], expected: object) -> None:
    fill = evaluate(order(kind, side, price, stop), *bar, qty=1.0, ref_volume=1e9, model=MODEL)
    if expected is None:
        assert fill.price is None and not fill.rest
    elif expected == "rest":
        assert fill.price is None and fill.rest
    else:
        assert (fill.price, fill.maker, fill.at_open) == pytest.approx(expected)


def test_a_triggered_stop_limit_rests_as_a_limit() -> None:
    resting = order("STOP_LOSS_LIMIT", "SELL", 94.0, 95.0)
    resting.triggered = True
    assert evaluate(resting, 93.0, 94.5, 92.0, 1.0, 1e9, MODEL).price == 94.0


def test_immediate_checks() -> None:
    assert marketable(True, 101.0, 100.0) and not marketable(True, 99.0, 100.0)
    assert marketable(False, 99.0, 100.0) and not marketable(False, 101.0, 100.0)
    assert would_trigger("STOP_LOSS", False, 101.0, 100.0)  # a sell stop above the price
    assert not would_trigger("STOP_LOSS_LIMIT", False, 99.0, 100.0)
    assert would_trigger("TAKE_PROFIT", False, 99.0, 100.0)  # a sell target below the price
    assert would_trigger("STOP_LOSS", True, 99.0, 100.0)
