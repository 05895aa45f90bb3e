"""A SIM session on a perpetual with funding, long/short, volatility-target sizing, through the
real actors, equals the backtester on the same bars, funding and costs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.data_source import load_candles, load_funding
from configs.loader import load_config
from core.backtest import MarketArrays, Targets, run_backtest
from core.data.funding import align_funding
from core.strategies.registry import get_strategy, parse_params
from tests.actors.live.sessions import run

pytestmark = pytest.mark.usefixtures("ray_session")

VENUE, SYMBOL = "BINANCEUSDM", "BTC/USDT"


def _config(tmp_path: Path, shared_data: Path):  # noqa: ANN202 - LoadedConfig
    lines = [
        "[app]", 'mode = "sim"',
        "[data]", f'dir = "{shared_data}"', f'venue = "{VENUE}"', f'symbols = ["{SYMBOL}"]',
        'timeframe = "1h"', "synthetic_fallback = false",
        "[strategy]", 'name = "momentum"', "params = { fast = 12, slow = 36, allow_short = true }",
        "[backtest]", 'direction = "long_short"',
        "[backtest.sizing]", 'method = "vol_target"', "vol_lookback_bars = 48",
        "vol_target_annual = 0.4",
        "[session]", 'duration = "45d"', 'until = "2024-03-01"', "batch_bars = 200",
        f'sessions_dir = "{tmp_path / "sessions"}"', "candidates = []",
        "[guardian]", f'kill_switch_file = "{tmp_path / "KILL"}"',
    ]
    path = tmp_path / "perp.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={})


def test_a_perpetual_session_with_funding_equals_the_backtester(tmp_path, shared_data):
    loaded = _config(tmp_path, shared_data)
    result = run(loaded, "perp")
    config = loaded.config
    rows = list(csv.DictReader((result.folder / "equity.csv").open()))
    ts = np.array([int(r["ts"]) for r in rows])
    sim_equity = np.array([float(r["equity"]) for r in rows])
    candles = load_candles(shared_data, venue=VENUE, symbol=SYMBOL, timeframe="1h")
    window = candles.between(int(ts[0]), int(ts[-1]) + 1)
    funded = align_funding(window, load_funding(shared_data, VENUE, SYMBOL), strict=False).candles
    spec = get_strategy(config.strategy.name)
    targets = np.column_stack(spec.compute([funded], parse_params(spec, dict(
        config.strategy.params))))
    limits = config.risk.effective()
    backtest = run_backtest(MarketArrays.from_candles([funded]), Targets(targets),
                            config.backtest, limits)
    assert np.array_equal(MarketArrays.from_candles([funded]).timestamp, ts)
    np.testing.assert_allclose(sim_equity, backtest.equity[:, 0], rtol=0, atol=1e-9)
    fills = list(csv.DictReader((result.folder / "fills.csv").open()))
    assert len(fills) > 10 and any(f["side"] == "SELL" for f in fills)
    # funding was really charged: without it the backtest ends elsewhere
    unfunded = run_backtest(MarketArrays.from_candles([window]), Targets(targets),
                            config.backtest, limits)
    assert np.max(np.abs(unfunded.equity[:, 0] - sim_equity)) > 1e-3
    assert np.count_nonzero(funded.funding) > 100
