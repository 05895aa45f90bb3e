"""scripts/bench_dsl.py and its DEAP + numpy baseline: smoke tests on tiny sizes.

Speed is never asserted here; only that the figures exist, are positive, and that the
baseline computes the same alphas as our evaluator.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from deap import gp

from core.dsl import parse, random_trees
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.generate import DEFAULT_TERMINALS
from core.dsl.operators import OPERATORS
from scripts.bench_dsl import load_market, values_agree
from scripts.deap_numpy_baseline import PRIMITIVES, DeapNumpy

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_dsl.py"
DATA_FILE = Path("ohlcv") / "BINANCE_BTC-USDT_1h.parquet"
REQUIRED = (
    "eval_bar_evals_per_s",
    "eval_trees_per_s",
    "eval_bar_evals_per_s_all_cores",
    "eval_bar_evals_per_s_subset",
    "eval_bar_evals_per_s_unshared",
    "deap_numpy_bar_evals_per_s",
    "deap_trees_per_s",
    "deap_trees_timed",
    "ratio_vs_deap_numpy",
    "pipeline_alphas_per_s_1core",
    "pipeline_eval_ms_per_alpha",
    "pipeline_mapping_ms_per_alpha",
    "pipeline_backtest_ms_per_alpha",
    "pipeline_sharpe_ms_per_alpha",
    "baseline_trees_checked",
    "cores_available_probe",
)


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> AlphaData:
    """The first 3,000 bars of the real BTC/USDT 1h series."""
    market = load_market(shared_data / DATA_FILE)
    return AlphaData.from_market(market).window(0, 3_000)


@pytest.mark.slow
def test_tiny_run_writes_every_required_key(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_script("--trees", "40", "--alphas", "20", "--deap-every", "2", "--repeats", "1",
                      "--profile", "--json", str(out), "--data", str(shared_data))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert list(figures)[:2] == ["command", "quick"]
    assert "--trees 40" in figures["command"]
    assert figures["quick"] is False
    assert figures["trees"] == 40 and figures["alphas"] == 20
    assert figures["deap_trees_timed"] == 20
    assert figures["eval_bars"] > 60_000
    for key in REQUIRED:
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value) and value > 0, (key, value)
    assert figures["baseline_trees_checked"] == 40
    assert figures["baseline_errors"] == 0
    assert figures["baseline_nan_pattern_agree"] == 40  # same warm-up everywhere
    assert figures["pipeline_direction"] == "long_short"
    assert figures["profile_ours_calls_add"] >= 0
    assert "figure" in done.stdout and "DEAP" in done.stdout and "[profile]" in done.stdout


def test_missing_data_exits_with_2(tmp_path: Path) -> None:
    env = {**os.environ, "EVOTRADER_SHARED_DATA": str(tmp_path / "nowhere")}
    done = run_script("--trees", "4", "--alphas", "2", "--repeats", "1", env=env)
    assert done.returncode == 2
    assert "not found" in done.stderr and "nowhere" in done.stderr


def test_baseline_has_every_operator() -> None:
    assert set(PRIMITIVES) == set(OPERATORS)


def test_pset_generates_and_round_trips(btc: AlphaData) -> None:
    engine = DeapNumpy({name: btc.get(name)[:, 0] for name in DEFAULT_TERMINALS})
    # DEAP's own generator works on the typed set (a primitive returns every type) ...
    for _ in range(20):
        tree = gp.PrimitiveTree(gp.genHalfAndHalf(engine.pset, 1, 3))
        values = engine.run(tree)
        assert np.shape(values) == (btc.n_bars,)
    # ... and converted trees print as DEAP text that parses back to the same tree.
    for node in random_trees(7, 30):
        tree = engine.convert(node)
        assert str(gp.PrimitiveTree.from_string(str(tree), engine.pset)) == str(tree)


@pytest.mark.parametrize("text", [
    "(div close (sub open open))",
    "(log (sub close close))",
    "(pow (sub close open) -1.0)",
    "(if_gt returns 0.0 high low)",
    "(ts_argmax (sign (delta close 1)) 5)",
    "(ts_argmin (sign (delta close 1)) 5)",
    "(ts_rank (sign returns) 10)",
    "(ts_rank close 200)",
    "(ts_zscore (sign returns) 3)",
    "(ts_corr (sign returns) close 5)",
    "(ts_cov returns volume 20)",
    "(ema returns 10)",
    "(decay_linear close 20)",
    "(cs_rank returns)",
    "(cs_zscore returns)",
    "(cs_demean returns)",
    "(clip returns -0.01 0.01)",
    "(delay close 3)",
])
def test_baseline_matches_our_semantics(btc: AlphaData, text: str) -> None:
    engine = DeapNumpy({name: btc.get(name)[:, 0] for name in DEFAULT_TERMINALS})
    node = parse(text)
    ours = evaluate([node], btc)[0][:, 0]
    theirs = engine.run(engine.convert(node))
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), text
    assert values_agree(ours, theirs), text


def test_baseline_agrees_on_random_trees(btc: AlphaData) -> None:
    engine = DeapNumpy({name: btc.get(name)[:, 0] for name in DEFAULT_TERMINALS})
    trees = random_trees(11, 60)
    agree = 0
    for node, ours in zip(trees, evaluate(trees, btc), strict=True):
        theirs = engine.run(engine.convert(node))
        assert np.array_equal(np.isnan(ours[:, 0]), np.isnan(theirs))
        agree += values_agree(ours[:, 0], theirs, rtol=1e-3)
    # pandas' rolling moments drift by up to ~1e-3 on price-level inputs (see the docs),
    # and rounding differences can flip ties downstream; everything else must agree.
    assert agree >= 0.9 * len(trees)
