"""A SIM session end to end on real Ray: files, summary, determinism, equality with the backtest."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from actors.adapters.data_source import load_candles
from core.backtest import MarketArrays, Targets, run_backtest
from core.strategies.registry import get_strategy, parse_params
from tests.actors.live.sessions import SESSION_FILES, SHORT, read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")


def test_a_session_writes_its_folder_and_summary(baselines):
    result = baselines.get()
    folder = result.folder
    for name in SESSION_FILES:
        assert (folder / name).is_file(), name
    assert result.steps == 8 and result.bars == 720 * 2
    assert result.stop_reason == "end of data"
    summary = read(folder, "session.md").decode()
    for section in ("## Result", "## Risk", "## Supervision", "## Latency", "## Data",
                    "## Candidates"):
        assert section in summary
    # every policy is named by its PolicySpec hash: the active one and each candidate
    (live,) = re.findall(r"^- policy: ([0-9a-f]{16})$", summary, flags=re.M)
    policies = {}
    for candidate in ("mom-fast", "mom-slow", "meanrev"):
        (policies[candidate],) = re.findall(rf"^\| {candidate} \| ([0-9a-f]{{16}}) \|",
                                            summary, flags=re.M)
    assert len({live, *policies.values()}) == 4
    fills = list(csv.DictReader((folder / "fills.csv").open()))
    assert fills and {f["symbol"] for f in fills} == {"BTC/USDT", "ETH/USDT"}
    equity = list(csv.DictReader((folder / "equity.csv").open()))
    assert len(equity) == 720


def test_same_data_and_seed_give_byte_identical_files(tmp_path, shared_data, baselines):
    first = baselines.get(**SHORT)
    second = run(session_config(tmp_path, shared_data, **SHORT), "det-b")
    for name in ("orders.csv", "fills.csv", "diary.jsonl", "equity.csv", "positions.csv",
                 "risk_events.jsonl"):
        assert read(first.folder, name) == read(second.folder, name), name
    # Batching is not part of the result: other step sizes give the same trading.
    third = run(session_config(tmp_path, shared_data, **{**SHORT, "batch_bars": 50}), "det-c")
    for name in ("orders.csv", "fills.csv", "diary.jsonl", "positions.csv"):
        assert read(first.folder, name) == read(third.folder, name), name
    equity = [[line.split(",")[2] for line in read(r.folder, "equity.csv").decode().splitlines()]
              for r in (first, third)]
    assert equity[0] == equity[1]


def test_sim_equals_the_backtester_for_the_same_strategy_and_costs(tmp_path, shared_data):
    loaded = session_config(tmp_path, shared_data, symbols=("BTC/USDT",), duration="60d",
                            candidates=[])
    result = run(loaded, "equal")
    config = loaded.config
    rows = list(csv.DictReader((result.folder / "equity.csv").open()))
    ts = np.array([int(r["ts"]) for r in rows])
    sim_equity = np.array([float(r["equity"]) for r in rows])
    candles = load_candles(shared_data, venue="BINANCE", symbol="BTC/USDT", timeframe="1h")
    window = candles.between(int(ts[0]), int(ts[-1]) + 1)
    spec = get_strategy(config.strategy.name)
    params = parse_params(spec, dict(config.strategy.params))
    targets = np.column_stack(spec.compute([window], params))
    market = MarketArrays.from_candles([window])
    backtest = run_backtest(market, Targets(targets), config.backtest, config.risk.effective())
    assert np.array_equal(market.timestamp, ts)
    np.testing.assert_allclose(sim_equity, backtest.equity[:, 0], rtol=0, atol=1e-9)
    assert len(list(csv.DictReader((result.folder / "fills.csv").open()))) > 10
