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


CORRUPTIONS = {"BTC/USDT": "nan", "SOL/USDT": "backwards"}
"""Symbol -> how its feed is corrupted; ETH/USDT stays healthy."""


def _file(symbol):
    return f"BINANCE_{symbol.replace('/', '-')}_1h.parquet"


def _store_with_corrupt_feeds(tmp_path, shared_data):
    """The data folder, and the open time of each corrupt symbol's first bad bar."""
    ohlcv = tmp_path / "data" / "ohlcv"
    ohlcv.mkdir(parents=True)
    shutil.copy(shared_data / "ohlcv" / _file("ETH/USDT"), ohlcv)
    bad_ts = {}
    for symbol, kind in CORRUPTIONS.items():
        frame = pd.read_parquet(shared_data / "ohlcv" / _file(symbol))
        frame = frame[frame["timestamp"] < pd.Timestamp("2025-06-01", tz="UTC").value // 10**6]
        frame = frame.tail(BARS).reset_index(drop=True)
        if kind == "nan":
            frame.loc[CORRUPT_ROW, "close"] = np.nan
        else:  # time going backwards
            frame.loc[CORRUPT_ROW, "timestamp"] = frame.loc[CORRUPT_ROW - 5, "timestamp"]
        frame.to_parquet(ohlcv / _file(symbol), index=False)
        bad_ts[symbol] = int(frame.loc[CORRUPT_ROW - 1, "timestamp"]) + 3_600_000
    return tmp_path / "data", bad_ts


def test_a_corrupt_bar_stops_its_feed_and_never_trades_on_it(tmp_path, shared_data):
    data, bad_ts = _store_with_corrupt_feeds(tmp_path, shared_data)
    loaded = session_config(tmp_path, data, symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT"),
                            duration="50d", until="2025-06-01",
                            candidates=[{"name": "fast", "strategy": "momentum",
                                         "params": {"fast": 5, "slow": 15}}])
    result = run(loaded, "corrupt")
    assert result.stop_reason == "end of data"
    events = [json.loads(line) for line in (result.folder / "risk_events.jsonl").open()]
    feed_errors = [e for e in events if e["kind"] == "feed_error"]
    assert sorted(e["symbol"] for e in feed_errors) == sorted(CORRUPTIONS), feed_errors
    assert all("row" in e["detail"] for e in feed_errors)
    fills = list(csv.DictReader((result.folder / "fills.csv").open()))
    orders = list(csv.DictReader((result.folder / "orders.csv").open()))
    for symbol, first_bad in bad_ts.items():
        assert any(e["reason"] == "stale_data" and e["symbol"] == symbol for e in events)
        after = [f for f in fills if f["symbol"] == symbol and int(f["ts"]) >= first_bad]
        assert after == [], symbol  # nothing ever traded on or after the corrupt bar
        for order in orders:
            if order["symbol"] == symbol and int(order["ts"]) >= first_bad:
                assert order["approved"] == "false" and order["deny_reason"] == "stale_data"
    first_bad = min(bad_ts.values())
    eth_after = [f for f in fills if f["symbol"] == "ETH/USDT" and int(f["ts"]) >= first_bad]
    assert eth_after  # the healthy feed goes on
