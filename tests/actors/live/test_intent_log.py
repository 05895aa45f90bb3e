from __future__ import annotations

from pathlib import Path

from actors.live.intent_log import IntentLog
from core.trading.messages import OrderRequest, Side


def request(coid: str) -> OrderRequest:
    return OrderRequest(coid, "s", "BTC/USDT", "core", 60_000, Side.BUY, 0.5, 100.0, 1.0, 50.0,
                        False)


def test_intents_survive_a_new_process_and_a_torn_line_is_ignored(tmp_path: Path) -> None:
    log = IntentLog(tmp_path)
    assert log.entries() == []
    log.append(request("E1"), 1_000)
    log.append(request("E2"), 2_000)
    with open(log.path, "a") as handle:
        handle.write('{"sent_ms": 3000, "request": "eyJ')  # killed while appending
    again = IntentLog(tmp_path)
    assert again.entries() == [(request("E1"), 1_000), (request("E2"), 2_000)]
    again.clear()
    assert IntentLog(tmp_path).entries() == []
    again.clear()  # nothing to clear: fine
