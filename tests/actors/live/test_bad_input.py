"""A corrupt bar mid-stream stops that feed with a recorded error and trips stale data."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.actors.live.sessions import run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

BARS = 1200
CORRUPT_ROW = 700


def _store_with_corrupt_btc(tmp_path, shared_data, kind):
    ohlcv = tmp_path / "data" / "ohlcv"
    ohlcv.mkdir(parents=True)
    shutil.copy(shared_data / "ohlcv" / "BINANCE_ETH-USDT_1h.parquet", ohlcv)
    frame = pd.read_parquet(shared_data / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet")
    frame = frame[frame["timestamp"] < pd.Timestamp("2025-06-01", tz="UTC").value // 10**6]
    frame = frame.tail(BARS).reset_index(drop=True)
    if kind == "nan":
        frame.loc[CORRUPT_ROW, "close"] = np.nan
    else:  # time going backwards
        frame.loc[CORRUPT_ROW, "timestamp"] = frame.loc[CORRUPT_ROW - 5, "timestamp"]
    frame.to_parquet(ohlcv / "BINANCE_BTC-USDT_1h.parquet", index=False)
    return tmp_path / "data", int(frame.loc[CORRUPT_ROW - 1, "timestamp"]) + 3_600_000


@pytest.mark.parametrize("kind", ["nan", "backwards"])
def test_a_corrupt_bar_stops_its_feed_and_never_trades_on_it(tmp_path, shared_data, kind):
    data, bad_ts = _store_with_corrupt_btc(tmp_path, shared_data, kind)
    loaded = session_config(tmp_path, data, duration="50d", until="2025-06-01",
                            candidates=[{"name": "fast", "strategy": "momentum",
                                         "params": {"fast": 5, "slow": 15}}])
    result = run(loaded, f"corrupt-{kind}")
    assert result.stop_reason == "end of data"
    events = [json.loads(line) for line in (result.folder / "risk_events.jsonl").open()]
    feed_errors = [e for e in events if e["kind"] == "feed_error"]
    assert len(feed_errors) == 1 and feed_errors[0]["symbol"] == "BTC/USDT"
    assert "row" in feed_errors[0]["detail"]
    assert any(e["reason"] == "stale_data" and e["symbol"] == "BTC/USDT" for e in events)
    fills = list(csv.DictReader((result.folder / "fills.csv").open()))
    btc_after = [f for f in fills if f["symbol"] == "BTC/USDT" and int(f["ts"]) >= bad_ts]
    assert btc_after == []  # nothing ever traded on or after the corrupt bar
    eth_after = [f for f in fills if f["symbol"] == "ETH/USDT" and int(f["ts"]) >= bad_ts]
    assert eth_after  # the healthy feed goes on
    orders = list(csv.DictReader((result.folder / "orders.csv").open()))
    for order in orders:
        if order["symbol"] == "BTC/USDT" and int(order["ts"]) >= bad_ts:
            assert order["approved"] == "false" and order["deny_reason"] == "stale_data"
