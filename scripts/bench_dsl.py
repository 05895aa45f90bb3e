r"""Benchmark the alpha DSL: our evaluator against DEAP + numpy, and alpha -> Sharpe per second.

Usage::

    python scripts/bench_dsl.py [--quick] [--json PATH] [--data DIR] [--profile]

What is measured, in one run, on the Binance BTC/USDT 1h series
(``<data>/ohlcv/BINANCE_BTC-USDT_1h.parquet``, one symbol) with 2,000 random well-typed
expressions of depth 2-5 (:func:`core.dsl.random_trees`, fixed seed):

* **(a) our evaluator**: the whole batch through :func:`core.dsl.plan.compile_plan` +
  :func:`core.dsl.evaluate.evaluate_plan` with an ``on_root`` callback (common
  subexpressions computed once, buffers recycled) on one core, in expression x bar
  evaluations per second (trees x bars / seconds). Also: the same with one thread per core
  (each evaluating its share of the trees; the kernels release the GIL), tree by tree without
  sharing, and the share of kernel calls saved by sharing.
* **(b) DEAP + numpy**: the same trees converted to DEAP ``PrimitiveTree`` objects of a
  ``gp.PrimitiveSetTyped`` holding the same 32 operators written in vectorised numpy/pandas
  (:mod:`scripts.deap_numpy_baseline`); timed: ``gp.compile(tree, pset)`` plus calling it on
  the data arrays. If not every tree is timed (``--quick``), a fixed subset (every k-th tree)
  is, and our batch is timed on the same subset for the ratio. Before any timing, every tree
  is evaluated by both and compared (``allclose``, NaN equal, rtol 1e-6); disagreements are
  traced to the first operator node whose values differ.
* **(c) pipeline**: per alpha on one core, evaluation (batch plan streaming roots) ->
  :func:`core.dsl.positions.sign_targets` -> ``run_backtest`` (taker fee 10 bps, half-spread
  5 bps, no minimum notional, fixed fraction 1.0, long/short) -> ``sharpe_ratio(
  simple_returns(result.portfolio_equity()), 24 * 365)``, in alphas per second with the time
  per stage.

(a) and (b) are timed round-robin (one sample of each operation per round) so background load
on a shared machine hits them alike; figures are medians (``time.perf_counter``). The
correctness pass runs first and doubles as the warm-up of every numba kernel and of pandas;
the pipeline is warmed up on a few alphas. ``--profile`` adds a diagnostic pass timing every
kernel call of our evaluator and every primitive call of the baseline, per operator.

``--data DIR`` defaults to ``$EVOTRADER_SHARED_DATA`` when set, else ``../shared/data``
relative to the repository root. Options ``--trees``, ``--alphas``, ``--deap-every`` and
``--repeats`` are meant for tests (tiny smoke runs). Exit codes: 0 done, 2 bad usage or
missing data.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib.metadata
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

import core.dsl.evaluate as dsl_evaluate
from configs.backtest import BacktestConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.dsl import OPERATORS, ArgKind, Call, Const, Node, Terminal, Window, random_trees, to_text
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate, evaluate_plan
from core.dsl.generate import DEFAULT_TERMINALS
from core.dsl.plan import compile_plan, count_tree_steps
from core.dsl.positions import sign_targets
from core.metrics import sharpe_ratio, simple_returns

try:  # imported as scripts.bench_dsl (tests) or run as a file (scripts/ on sys.path)
    from scripts.deap_numpy_baseline import DeapNumpy
except ModuleNotFoundError:  # pragma: no cover - depends on how the script is started
    from deap_numpy_baseline import DeapNumpy  # type: ignore[no-redef]

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_FILE = Path("ohlcv") / "BINANCE_BTC-USDT_1h.parquet"
HOUR_MS = 3_600_000
PERIODS_PER_YEAR = 24 * 365

SEED = 20261121
MIN_DEPTH, MAX_DEPTH = 2, 5
FULL_TREES = 2_000
QUICK_TREES = 500
FULL_DEAP_EVERY = 1
QUICK_DEAP_EVERY = 2
FULL_ALPHAS = 500
QUICK_ALPHAS = 100
FULL_REPEATS = 5
QUICK_REPEATS = 3
PIPELINE_WARMUP_ALPHAS = 5
HIGH_TURNOVER_FILLS = 1_000

INIT_CASH = 10_000.0
TAKER_FEE_BPS = 10.0
HALF_SPREAD_BPS = 5.0
DIRECTION = "long_short"

RTOL = 1e-6
"""Relative tolerance of the baseline check."""
ATOL_SCALE = 1e-12
"""Absolute tolerance of the baseline check, times the largest finite |value| of the series."""
LOOSE_RTOL = 1e-3
DIAGNOSE_MAX_TREES = 300
EXACT_MAX_BARS = 200
MOMENT_OPS = ("ts_std", "ts_zscore", "ts_cov", "ts_corr")

# (comparison, threshold, shown goal) per figure with a goal in the issue.
GOALS: dict[str, tuple[str, float, str]] = {
    "ratio_vs_deap_numpy": (">=", 10.0, ">= 10x"),
    "pipeline_alphas_per_s_1core": (">=", 1_000.0, ">= 1,000 alphas/s"),
}

REQUIRED_KEYS = (
    "eval_bar_evals_per_s",
    "deap_numpy_bar_evals_per_s",
    "ratio_vs_deap_numpy",
    "pipeline_alphas_per_s_1core",
)


class UsageError(Exception):
    """Bad command line or missing input data (exit code 2)."""


def _discard(index: int, values: np.ndarray) -> None:
    """An ``on_root`` callback that drops the values (what is timed is the evaluation)."""


@dataclass
class Workload:
    """Everything the benchmark evaluates.

    Attributes:
        market: The BTC/USDT 1h market (one column).
        data: Terminal series for our evaluator.
        trees: The random expressions of (a) and (b).
        alphas: The expressions of the pipeline (c).
        deap: The baseline engine.
        deap_trees: ``trees`` converted to DEAP trees.
        subset: Indices of the trees timed through DEAP.
    """

    market: MarketArrays
    data: AlphaData
    trees: list[Node]
    alphas: list[Node]
    deap: DeapNumpy
    deap_trees: list[Any]
    subset: list[int]

    @property
    def n_bars(self) -> int:
        """Bars per series."""
        return self.data.n_bars


@dataclass
class CheckReport:
    """Outcome of comparing the baseline with our evaluator on every tree.

    Attributes:
        checked: Trees compared.
        agree: Trees equal within ``RTOL`` (NaN equal).
        agree_loose: Trees equal within ``LOOSE_RTOL``.
        nan_pattern: Trees whose NaN positions are identical.
        identical: Trees with bit-identical values.
        errors: Trees the baseline failed to evaluate.
        disagree: Indices of the trees outside ``RTOL``.
        worst_rel: Largest relative difference over all finite value pairs.
        culprits: (operator, children identical?) -> count, from the diagnosis.
        examples: One expression per culprit key.
        moments: Statistics of the exact-reference check of the moment operators.
    """

    checked: int = 0
    agree: int = 0
    agree_loose: int = 0
    nan_pattern: int = 0
    identical: int = 0
    errors: int = 0
    disagree: list[int] = field(default_factory=list)
    worst_rel: float = 0.0
    culprits: collections.Counter = field(default_factory=collections.Counter)
    examples: dict[tuple[str, bool], str] = field(default_factory=dict)
    moments: dict[str, float] = field(default_factory=dict)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="bench_dsl.py",
        description="Benchmark the alpha DSL evaluator against DEAP + numpy and the "
                    "alpha -> backtest -> Sharpe pipeline.",
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_TREES} trees (every {QUICK_DEAP_EVERY}. through DEAP), "
                             f"{QUICK_ALPHAS} alphas, {QUICK_REPEATS} repeats: under a minute")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the figures as a flat JSON object to PATH")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="shared data folder holding ohlcv/ (default: "
                             "$EVOTRADER_SHARED_DATA, else ../shared/data next to the repo)")
    parser.add_argument("--profile", action="store_true",
                        help="diagnostic pass: time every kernel / primitive call per operator")
    # Test-only knobs (tiny smoke runs); hidden from --help.
    parser.add_argument("--trees", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--alphas", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--deap-every", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    return parser


def resolve_data_dir(given: Path | None) -> Path:
    """The data folder: ``--data``, else ``$EVOTRADER_SHARED_DATA``, else ``../shared/data``.

    Args:
        given: The ``--data`` argument, if any.

    Returns:
        The folder (not checked).
    """
    if given is not None:
        return given
    configured = os.environ.get("EVOTRADER_SHARED_DATA")
    if configured:
        return Path(configured)
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def load_market(path: Path) -> MarketArrays:
    """The BTC/USDT 1h series as one market column."""
    frame = pd.read_parquet(path)
    return MarketArrays.from_arrays(
        frame["timestamp"].to_numpy(), frame["open"].to_numpy(), frame["high"].to_numpy(),
        frame["low"].to_numpy(), frame["close"].to_numpy(), frame["volume"].to_numpy(),
        timeframe_ms=HOUR_MS, symbols=("BTC/USDT",),
    )


def build_workload(market: MarketArrays, n_trees: int, n_alphas: int, deap_every: int
                   ) -> Workload:
    """Random trees, their DEAP twins and the baseline engine on ``market``."""
    data = AlphaData.from_market(market)
    generated = random_trees(SEED, max(n_trees, n_alphas), min_depth=MIN_DEPTH,
                             max_depth=MAX_DEPTH)
    engine = DeapNumpy({name: data.get(name)[:, 0] for name in DEFAULT_TERMINALS})
    trees = generated[:n_trees]
    return Workload(market=market, data=data, trees=trees, alphas=generated[:n_alphas],
                    deap=engine, deap_trees=[engine.convert(tree) for tree in trees],
                    subset=list(range(0, n_trees, deap_every)))


# --- correctness of the baseline -------------------------------------------------------------

def _scale(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0


def values_agree(ours: np.ndarray, theirs: np.ndarray, rtol: float = RTOL) -> bool:
    """Whether two series are equal within ``rtol`` (plus a tiny scale-relative atol), NaN equal.

    Args:
        ours: Reference values (our evaluator).
        theirs: Values to check.
        rtol: Relative tolerance.

    Returns:
        True if every bar agrees.
    """
    if ours.shape != theirs.shape:
        return False
    return bool(np.allclose(theirs, ours, rtol=rtol, atol=ATOL_SCALE * _scale(ours),
                            equal_nan=True))


def _relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    both = np.isfinite(ours) & np.isfinite(theirs)
    if not both.any():
        return 0.0
    a, b = ours[both], theirs[both]
    with np.errstate(all="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(a), ATOL_SCALE * _scale(ours) + 1e-300)
    return float(rel.max())


def check_baseline(work: Workload) -> CheckReport:
    """Evaluate every tree with both engines and compare (also warms both up).

    Our batch streams each tree's values to a callback that evaluates the same tree through
    DEAP, so memory stays flat whatever the number of trees.
    """
    report = CheckReport()
    deap, deap_trees = work.deap, work.deap_trees

    def compare(index: int, values: np.ndarray) -> None:
        ours = values[:, 0]
        report.checked += 1
        try:
            theirs = np.asarray(deap.run(deap_trees[index]), dtype=np.float64)
        except Exception:  # noqa: BLE001 - counted and reported, never hidden
            report.errors += 1
            report.disagree.append(index)
            return
        if theirs.shape != ours.shape:
            report.disagree.append(index)
            return
        report.identical += bool(np.array_equal(ours, theirs, equal_nan=True))
        report.nan_pattern += bool(np.array_equal(np.isnan(ours), np.isnan(theirs)))
        report.agree_loose += values_agree(ours, theirs, LOOSE_RTOL)
        report.worst_rel = max(report.worst_rel, _relative_difference(ours, theirs))
        if values_agree(ours, theirs):
            report.agree += 1
        else:
            report.disagree.append(index)

    evaluate_plan(compile_plan(work.trees), work.data, on_root=compare)
    _diagnose(work, report)
    return report


def _pair(work: Workload, node: Node) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``node`` from our evaluator and from the baseline."""
    ours = evaluate([node], work.data)[0][:, 0]
    return ours, np.asarray(work.deap.run(work.deap.convert(node)), dtype=np.float64)


def _series_of(work: Workload, arg: Node) -> np.ndarray:
    """Our values of a series argument: an expression, a terminal or a constant."""
    if isinstance(arg, Call):
        return evaluate([arg], work.data)[0][:, 0]
    if isinstance(arg, Terminal):
        return work.data.get(arg.name)[:, 0]
    assert isinstance(arg, Const)
    return np.full(work.n_bars, arg.value)


def _first_divergence(work: Workload, node: Node
                      ) -> tuple[Call, bool, list[np.ndarray]] | None:
    """The deepest operator node whose values disagree, searching children first.

    Returns:
        ``(node, children bit-identical in both engines, our values of its series
        arguments)``, or None if ``node`` agrees.
    """
    assert isinstance(node, Call)
    for arg in node.args:
        if isinstance(arg, Call):
            found = _first_divergence(work, arg)
            if found is not None:
                return found
    ours, theirs = _pair(work, node)
    if values_agree(ours, theirs):
        return None
    identical = True
    inputs = []
    for kind, arg in zip(OPERATORS[node.op].args, node.args, strict=True):
        if kind is not ArgKind.SERIES:
            continue
        if isinstance(arg, Call):
            child_ours, child_theirs = _pair(work, arg)
            identical = identical and np.array_equal(child_ours, child_theirs, equal_nan=True)
        inputs.append(_series_of(work, arg))
    return node, identical, inputs


def _exact_moment(op: str, inputs: list[np.ndarray], w: int, t: int) -> tuple[float, float]:
    """``op`` at bar ``t`` by a two-pass formula in extended precision (the reference).

    Returns:
        ``(value, scale)``: the scale errors are measured in — the standard deviation for
        ``ts_std``, ``std_a * std_b`` for ``ts_cov``, 1 for z-scores and correlations
        (dimensionless) — and 0 for a constant window.
    """
    xs = [x[t - w + 1:t + 1].astype(np.longdouble) for x in inputs]
    dx = xs[0] - xs[0].mean()
    sxx = (dx * dx).sum()
    if op in ("ts_std", "ts_zscore"):
        if sxx == 0:
            return 0.0, 0.0
        std = np.sqrt(sxx / (w - 1))
        return (float(std), float(std)) if op == "ts_std" else (float(dx[-1] / std), 1.0)
    dy = xs[1] - xs[1].mean()
    sxy, syy = (dx * dy).sum(), (dy * dy).sum()
    if sxx == 0 or syy == 0:
        return (float(sxy / (w - 1)) if op == "ts_cov" else 0.0), 0.0
    if op == "ts_cov":
        return float(sxy / (w - 1)), float(np.sqrt(sxx * syy) / (w - 1))
    return float(min(max(sxy / np.sqrt(sxx * syy), -1.0), 1.0)), 1.0


def _diagnose(work: Workload, report: CheckReport) -> None:
    """Trace each disagreeing tree to its first diverging operator; check moments exactly."""
    ours_err: list[float] = []
    theirs_err: list[float] = []
    closer = flat_exact_ours = flat_total = 0
    for index in report.disagree[:DIAGNOSE_MAX_TREES]:
        try:
            found = _first_divergence(work, work.trees[index])
        except Exception as exc:  # noqa: BLE001 - reported as the culprit
            report.culprits[(f"error:{type(exc).__name__}", False)] += 1
            continue
        if found is None:  # the whole tree disagrees but no node does (cannot happen)
            report.culprits[("none", False)] += 1
            continue
        node, identical, children = found
        key = (node.op, identical)
        report.culprits[key] += 1
        report.examples.setdefault(key, to_text(node))
        if not (identical and node.op in MOMENT_OPS):
            continue
        ours, theirs = _pair(work, node)
        window = next(arg.bars for arg in node.args if isinstance(arg, Window))
        bad = np.flatnonzero(~np.isclose(theirs, ours, rtol=RTOL, atol=0.0, equal_nan=True))
        for t in bad[:EXACT_MAX_BARS]:
            exact, scale = _exact_moment(node.op, children, window, int(t))
            if scale == 0.0:
                flat_total += 1
                flat_exact_ours += ours[t] == exact
                continue
            e_ours = abs(ours[t] - exact) / scale
            e_theirs = abs(theirs[t] - exact) / scale
            ours_err.append(e_ours)
            theirs_err.append(e_theirs)
            closer += e_ours <= e_theirs
    if ours_err or flat_total:
        report.moments = {
            "bars": float(len(ours_err)),
            "ours_closer": float(closer),
            "ours_max_err": max(ours_err, default=0.0),
            "deap_max_err": max(theirs_err, default=0.0),
            "ours_median_err": statistics.median(ours_err) if ours_err else 0.0,
            "deap_median_err": statistics.median(theirs_err) if theirs_err else 0.0,
            "flat_windows": float(flat_total),
            "flat_windows_ours_exact": float(flat_exact_ours),
        }


def check_figures(report: CheckReport) -> tuple[dict[str, Any], list[str]]:
    """Flat figures and report lines of the baseline check."""
    n = max(report.checked, 1)
    culprits = ",".join(f"{op}{'' if same else '*'}:{count}"
                        for (op, same), count in report.culprits.most_common())
    amplified = sum(count for (_, same), count in report.culprits.items() if not same)
    figures: dict[str, Any] = {
        "baseline_trees_checked": report.checked,
        "baseline_agree": report.agree,
        "baseline_agree_fraction": report.agree / n,
        "baseline_agree_rtol_1e-3": report.agree_loose,
        "baseline_nan_pattern_agree": report.nan_pattern,
        "baseline_bit_identical": report.identical,
        "baseline_errors": report.errors,
        "baseline_max_rel_diff": report.worst_rel,
        "baseline_disagree_culprits": culprits,
        "baseline_disagree_amplified": amplified,
    }
    for key, value in report.moments.items():
        figures[f"baseline_moment_{key}"] = value
    lines = [
        f"[check] DEAP+numpy vs ours on {report.checked:,} trees: {report.agree:,} agree "
        f"(rtol {RTOL:g}, NaN equal; {report.agree / n:.1%}), {report.agree_loose:,} within "
        f"rtol {LOOSE_RTOL:g}, {report.nan_pattern:,} identical NaN pattern, "
        f"{report.identical:,} bit-identical, {report.errors} errors",
        f"  disagreements traced to the first diverging operator ('*' = its inputs already "
        f"differed by rounding, i.e. amplified): {culprits or 'none'}",
    ]
    for (op, same), example in sorted(report.examples.items()):
        lines.append(f"    {op}{'' if same else '*'}: e.g. {example}")
    if report.moments:
        m = report.moments
        lines.append(
            f"  moment operators ({'/'.join(MOMENT_OPS)}) with identical inputs, against an "
            f"extended-precision two-pass reference on {int(m['bars'])} disagreeing bars (error "
            f"in units of the window's std, std_a*std_b for ts_cov, 1 for z/corr): ours max "
            f"{m['ours_max_err']:.1e} (median {m['ours_median_err']:.1e}), pandas max "
            f"{m['deap_max_err']:.1e} (median {m['deap_median_err']:.1e}); ours closer on "
            f"{int(m['ours_closer'])}/{int(m['bars'])}; constant windows: "
            f"{int(m['flat_windows'])}, ours exact on {int(m['flat_windows_ours_exact'])}")
    return figures, lines


# --- timing ---------------------------------------------------------------------------------

def time_round_robin(ops: dict[str, Callable[[], object]], repeats: int
                     ) -> dict[str, list[float]]:
    """Seconds of ``repeats`` rounds, each running every operation once in turn.

    Interleaving makes background load on a shared machine hit every operation alike, so
    their ratios stay meaningful. The operations must already be warm (JIT, caches).

    Args:
        ops: Named operations; their results are dropped.
        repeats: Rounds.

    Returns:
        The samples of every operation, by name.
    """
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            gc.collect()
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def ours_batch(trees: Sequence[Node], data: AlphaData) -> None:
    """Compile ``trees`` into one shared plan and evaluate it, streaming the roots."""
    evaluate_plan(compile_plan(trees), data, on_root=_discard)


def ours_tree_by_tree(trees: Sequence[Node], data: AlphaData) -> None:
    """Evaluate ``trees`` one plan per tree (no sharing across trees)."""
    for tree in trees:
        evaluate_plan(compile_plan([tree]), data, on_root=_discard)


def _fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:,.1f} M"
    if value >= 1e3:
        return f"{value / 1e3:,.1f} k"
    return f"{value:,.1f}"


def _describe(samples: list[float], count: int, bars: int) -> str:
    median = statistics.median(samples)
    rates = sorted(count * bars / s for s in samples)
    return (f"{median:7.3f} s, {count / median:8,.1f} trees/s, {_fmt_rate(count * bars / median)} "
            f"bar-evals/s (range {_fmt_rate(rates[0])} .. {_fmt_rate(rates[-1])}, "
            f"{len(samples)} rounds)")


def bench_evaluation(work: Workload, repeats: int, n_threads: int
                     ) -> tuple[dict[str, Any], list[str]]:
    """Time (a) and (b) round-robin: ours (batch, threads, subset, tree by tree) and DEAP."""
    trees, data, n = work.trees, work.data, work.n_bars
    subset_trees = [trees[i] for i in work.subset]
    deap_subset = [work.deap_trees[i] for i in work.subset]
    everything = len(subset_trees) == len(trees)
    shares = [trees[i::n_threads] for i in range(n_threads)]
    pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="bench-dsl")

    def threaded() -> None:
        list(pool.map(lambda part: ours_batch(part, data), shares))

    ops: dict[str, Callable[[], object]] = {"ours batch, 1 core": lambda: ours_batch(trees, data)}
    if not everything:
        ops["ours batch, DEAP subset"] = lambda: ours_batch(subset_trees, data)
    ops[f"ours batch, {n_threads} threads"] = threaded
    ops["ours tree by tree, DEAP subset"] = lambda: ours_tree_by_tree(subset_trees, data)
    ops["DEAP+numpy, subset"] = lambda: work.deap.run_all(deap_subset)
    if n_threads > 1:  # first use of the pool outside the timings
        threaded()
    samples = time_round_robin(ops, repeats)
    pool.shutdown()

    counts = {"ours batch, 1 core": len(trees), "ours batch, DEAP subset": len(subset_trees),
              f"ours batch, {n_threads} threads": len(trees),
              "ours tree by tree, DEAP subset": len(subset_trees),
              "DEAP+numpy, subset": len(subset_trees)}
    subset_note = ("all trees" if everything else
                   f"every k-th tree (k={work.subset[1] - work.subset[0]}), "
                   f"{len(subset_trees):,} trees")
    lines = [f"[eval] {len(trees):,} trees x {n:,} bars; DEAP subset: {subset_note}"]
    for name, values in samples.items():
        lines.append(f"  {name:<32}: {_describe(values, counts[name], n)}")

    def rate(name: str) -> float:
        return counts[name] * n / statistics.median(samples[name])

    one = rate("ours batch, 1 core")
    subset_rate = one if everything else rate("ours batch, DEAP subset")
    deap_rate = rate("DEAP+numpy, subset")
    plan = compile_plan(trees)
    tree_steps = count_tree_steps(trees)
    start = time.perf_counter()
    compile_plan(trees)
    plan_s = time.perf_counter() - start
    start = time.perf_counter()
    for tree in deap_subset:
        work.deap.compile(tree)
    deap_compile_s = time.perf_counter() - start
    figures = {
        "eval_trees": len(trees),
        "eval_bars": n,
        "eval_trees_per_s": len(trees) / statistics.median(samples["ours batch, 1 core"]),
        "eval_bar_evals_per_s": one,
        "eval_bar_evals_per_s_all_cores": rate(f"ours batch, {n_threads} threads"),
        "eval_threads_all_cores": n_threads,
        "eval_scaling_all_cores": rate(f"ours batch, {n_threads} threads") / one,
        "eval_bar_evals_per_s_subset": subset_rate,
        "eval_bar_evals_per_s_unshared": rate("ours tree by tree, DEAP subset"),
        "shared_fraction": plan.shared_fraction(tree_steps),
        "plan_steps": len(plan.steps),
        "tree_steps": tree_steps,
        "plan_compile_ms": plan_s * 1e3,
        "deap_trees_timed": len(subset_trees),
        "deap_subset": subset_note,
        "deap_trees_per_s": len(subset_trees) / statistics.median(samples["DEAP+numpy, subset"]),
        "deap_numpy_bar_evals_per_s": deap_rate,
        "deap_compile_ms_per_tree": deap_compile_s * 1e3 / max(len(deap_subset), 1),
        "ratio_vs_deap_numpy": subset_rate / deap_rate,
        "ratio_vs_deap_numpy_unshared": rate("ours tree by tree, DEAP subset") / deap_rate,
    }
    lines.append(
        f"  sharing: {len(plan.steps):,} kernel calls instead of {tree_steps:,} "
        f"({figures['shared_fraction']:.1%} saved); compile_plan {plan_s * 1e3:.1f} ms; "
        f"gp.compile {figures['deap_compile_ms_per_tree']:.3f} ms per tree")
    lines.append(
        f"  ratio ours/DEAP on the same trees: {figures['ratio_vs_deap_numpy']:.2f}x batch, "
        f"{figures['ratio_vs_deap_numpy_unshared']:.2f}x tree by tree (no sharing)")
    return figures, lines


# --- pipeline -------------------------------------------------------------------------------

def backtest_config() -> BacktestConfig:
    """Taker fee 10 bps, half-spread 5 bps, fixed fraction 1.0, long/short, no min notional."""
    return BacktestConfig(initial_cash=INIT_CASH, direction=DIRECTION,
                          costs={"taker_fee_bps": TAKER_FEE_BPS,
                                 "half_spread_bps": HALF_SPREAD_BPS},
                          sizing={"method": "fixed_fraction", "fraction": 1.0},
                          min_notional=0.0)


@dataclass
class PipelineRun:
    """Seconds of one pipeline batch, in total and per stage, plus per-alpha details."""

    total: float = 0.0
    mapping: float = 0.0
    backtest: float = 0.0
    equity: float = 0.0
    sharpe: float = 0.0
    backtest_each: list[float] = field(default_factory=list)
    fills: list[int] = field(default_factory=list)
    sharpes: list[float] = field(default_factory=list)

    @property
    def evaluation(self) -> float:
        """Plan compile + kernels + bookkeeping: the total minus the timed stages."""
        return self.total - self.mapping - self.backtest - self.equity - self.sharpe


def has_fused_sharpe() -> bool:
    """Whether this checkout's ``BacktestResult`` has ``sharpe(column)`` (no equity curve)."""
    from core.backtest import BacktestResult

    return callable(getattr(BacktestResult, "sharpe", None))


def run_pipeline(alphas: Sequence[Node], work: Workload, config: BacktestConfig,
                 fused: bool = False) -> PipelineRun:
    """Alpha -> sign targets -> backtest with costs -> Sharpe for every alpha, on one core.

    Args:
        alphas: The expressions (one shared plan; each root is handled as it is computed).
        work: Market and terminal data.
        config: Costs, sizing and direction.
        fused: Score with ``result.sharpe(0)`` (one pass over the fills) instead of
            ``sharpe_ratio(simple_returns(result.portfolio_equity()), 24 * 365)``.

    Returns:
        Total and per-stage seconds, fills and Sharpe ratio of every alpha.
    """
    run = PipelineRun()
    market = work.market
    clock = time.perf_counter

    def on_root(index: int, values: np.ndarray) -> None:
        t0 = clock()
        targets = Targets(sign_targets(values))
        t1 = clock()
        result = run_backtest(market, targets, config)
        t2 = clock()
        if fused:
            t3 = t2
            sharpe = result.sharpe(0)  # type: ignore[attr-defined]
        else:
            equity = result.portfolio_equity()
            t3 = clock()
            sharpe = sharpe_ratio(simple_returns(equity), PERIODS_PER_YEAR)
        t4 = clock()
        run.mapping += t1 - t0
        run.backtest += t2 - t1
        run.equity += t3 - t2
        run.sharpe += t4 - t3
        run.backtest_each.append(t2 - t1)
        run.fills.append(len(result.orders))
        run.sharpes.append(sharpe)

    start = clock()
    evaluate_plan(compile_plan(alphas), work.data, on_root=on_root)
    run.total = clock() - start
    return run


PIPELINE_STAGES = (
    ("evaluation (plan + kernels)", "evaluation", "eval"),
    ("sign_targets + Targets", "mapping", "mapping"),
    ("run_backtest", "backtest", "backtest"),
    ("result.portfolio_equity()", "equity", "equity"),
    ("simple_returns + sharpe_ratio", "sharpe", "sharpe"),
)


def bench_pipeline(work: Workload, repeats: int) -> tuple[dict[str, Any], list[str]]:
    """Time (c): ``repeats`` batches of the pipeline; medians of the total and of each stage.

    If the checkout's ``BacktestResult`` has a fused ``sharpe(column)``, that variant is timed
    too, round-robin with the standard one, as an extra figure (and its Sharpe ratios are
    compared with the standard ones).
    """
    config = backtest_config()
    fused = has_fused_sharpe()
    variants = {"standard": False, **({"fused": True} if fused else {})}
    for flag in variants.values():  # JIT caches, imports
        run_pipeline(work.alphas[:PIPELINE_WARMUP_ALPHAS], work, config, flag)
    runs: dict[str, list[PipelineRun]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, flag in variants.items():
            gc.collect()
            runs[name].append(run_pipeline(work.alphas, work, config, flag))
    k = len(work.alphas)

    def per_alpha_ms(name: str, stage: str) -> float:
        return statistics.median(getattr(run, stage) for run in runs[name]) * 1e3 / k

    total = statistics.median(run.total for run in runs["standard"])
    last = runs["standard"][-1]
    fills = np.asarray(last.fills)
    figures: dict[str, Any] = {
        "pipeline_alphas": k,
        "pipeline_direction": DIRECTION,
        "pipeline_alphas_per_s_1core": k / total,
        "pipeline_ms_per_alpha": total * 1e3 / k,
    }
    for _, stage, key in PIPELINE_STAGES:
        figures[f"pipeline_{key}_ms_per_alpha"] = per_alpha_ms("standard", stage)
    figures.update({
        "pipeline_backtest_ms_median_alpha": statistics.median(last.backtest_each) * 1e3,
        "pipeline_fills_per_alpha_mean": float(fills.mean()),
        "pipeline_fills_per_alpha_median": float(np.median(fills)),
        "pipeline_fills_per_alpha_max": int(fills.max()),
        "pipeline_alphas_without_fills": int((fills == 0).sum()),
        "pipeline_sharpe_finite": int(np.isfinite(last.sharpes).sum()),
    })
    each = np.asarray(last.backtest_each)
    if np.ptp(fills) > 0:  # backtest seconds ~ base + per_fill * fills (least squares)
        per_fill, base = np.polyfit(fills.astype(np.float64), each, 1)
        figures["pipeline_backtest_base_ms"] = float(base) * 1e3
        figures["pipeline_backtest_us_per_fill"] = float(per_fill) * 1e6
    busy = fills > HIGH_TURNOVER_FILLS
    figures["pipeline_high_turnover_alphas"] = int(busy.sum())
    figures["pipeline_high_turnover_backtest_share"] = float(each[busy].sum() / each.sum())
    rates = sorted(k / run.total for run in runs["standard"])
    lines = [f"[pipeline] {k:,} alphas, {DIRECTION}, taker {TAKER_FEE_BPS:g} bps + half-spread "
             f"{HALF_SPREAD_BPS:g} bps, fixed fraction 1.0: {k / total:,.1f} alphas/s "
             f"(median of {len(rates)}; range {rates[0]:,.1f} .. {rates[-1]:,.1f}), "
             f"{total * 1e3 / k:.3f} ms per alpha"]
    for label, stage, _ in PIPELINE_STAGES:
        ms = per_alpha_ms("standard", stage)
        lines.append(f"  {label:<30}: {ms:6.3f} ms/alpha ({ms / (total * 1e3 / k):5.1%})")
    lines.append(f"  fills per alpha: mean {fills.mean():,.0f}, median {np.median(fills):,.0f}, "
                 f"max {fills.max():,}; backtest of the median alpha "
                 f"{figures['pipeline_backtest_ms_median_alpha']:.3f} ms; "
                 f"{figures['pipeline_sharpe_finite']} finite Sharpe ratios")
    if "pipeline_backtest_us_per_fill" in figures:
        lines.append(
            f"  run_backtest ~ {figures['pipeline_backtest_base_ms']:.3f} ms + "
            f"{figures['pipeline_backtest_us_per_fill']:.3f} us per fill (least squares); the "
            f"{figures['pipeline_high_turnover_alphas']} alphas with > {HIGH_TURNOVER_FILLS:,} "
            f"fills take {figures['pipeline_high_turnover_backtest_share']:.0%} of the "
            f"backtest time")
    if fused:
        fused_total = statistics.median(run.total for run in runs["fused"])
        ours = np.asarray(last.sharpes)
        theirs = np.asarray(runs["fused"][-1].sharpes)
        same_nan = bool(np.array_equal(np.isnan(ours), np.isnan(theirs)))
        both = np.isfinite(ours) & np.isfinite(theirs)
        gaps = np.abs(ours[both] - theirs[both])
        diff = float(np.max(gaps, initial=0.0))
        differ = int((gaps > 1e-9).sum()) + int((np.isnan(ours) != np.isnan(theirs)).sum())
        figures.update({
            "pipeline_alphas_per_s_1core_fused_sharpe": k / fused_total,
            "pipeline_fused_sharpe_ms_per_alpha": per_alpha_ms("fused", "sharpe"),
            "pipeline_fused_sharpe_max_abs_diff": diff,
            "pipeline_fused_sharpe_same_nan": same_nan,
            "pipeline_fused_sharpe_alphas_differ": differ,
        })
        lines.append(
            f"  extra: result.sharpe(0) instead of equity curve + sharpe_ratio: "
            f"{k / fused_total:,.1f} alphas/s, Sharpe stage "
            f"{figures['pipeline_fused_sharpe_ms_per_alpha']:.3f} ms/alpha; Sharpe ratios "
            f"differ by more than 1e-9 on {differ} of {k} alphas, by at most {diff:.1e} (NaN "
            f"pattern {'equal' if same_nan else 'DIFFERS'})")
    return figures, lines


# --- profile --------------------------------------------------------------------------------

def _timed(name: str, fn: Callable[..., Any], totals: dict[str, float],
           calls: collections.Counter) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            totals[name] += time.perf_counter() - start
            calls[name] += 1

    return wrapper


def profile_operators(work: Workload) -> tuple[dict[str, Any], list[str]]:
    """Time every kernel call (ours, all trees) and primitive call (DEAP, subset) per operator.

    Wraps the entries of ``core.dsl.evaluate.TRUSTED_KERNELS`` and of the DEAP set's evaluation
    context with timers for one pass each, then restores them. Diagnostic only: the timers
    add about a microsecond per call.
    """
    kernels = dsl_evaluate.TRUSTED_KERNELS
    ours_t: dict[str, float] = collections.defaultdict(float)
    ours_n: collections.Counter = collections.Counter()
    saved = dict(kernels)
    try:
        for name, fn in saved.items():
            kernels[name] = _timed(name, fn, ours_t, ours_n)
        start = time.perf_counter()
        ours_batch(work.trees, work.data)
        ours_total = time.perf_counter() - start
    finally:
        kernels.update(saved)

    context = work.deap.pset.context
    deap_t: dict[str, float] = collections.defaultdict(float)
    deap_n: collections.Counter = collections.Counter()
    names = [*saved, "const"]
    saved_context = {name: context[name] for name in names}
    subset = [work.deap_trees[i] for i in work.subset]
    try:
        for name in names:
            context[name] = _timed(name, saved_context[name], deap_t, deap_n)
        start = time.perf_counter()
        work.deap.run_all(subset)
        deap_total = time.perf_counter() - start
    finally:
        context.update(saved_context)

    n = work.n_bars
    figures: dict[str, Any] = {"profile_ours_total_s": ours_total,
                               "profile_ours_kernels_s": sum(ours_t.values()),
                               "profile_deap_total_s": deap_total,
                               "profile_deap_primitives_s": sum(deap_t.values())}
    lines = [
        f"[profile] ours: {len(work.trees):,} trees in {ours_total:.3f} s, "
        f"{sum(ours_t.values()) / ours_total:.1%} inside kernels; DEAP: {len(subset):,} trees "
        f"in {deap_total:.3f} s, {sum(deap_t.values()) / deap_total:.1%} inside primitives",
        f"  {'operator':<13} {'ours calls':>10} {'ours ms':>9} {'share':>6} {'us/call':>8} "
        f"{'ns/bar':>7} | {'DEAP calls':>10} {'DEAP ms':>9} {'share':>6} {'us/call':>8} "
        f"{'DEAP/ours per call':>18}",
    ]
    for name in sorted(names, key=lambda key: -ours_t.get(key, 0.0)):
        ours_ms, deap_ms = ours_t.get(name, 0.0) * 1e3, deap_t.get(name, 0.0) * 1e3
        ours_call = ours_ms * 1e3 / ours_n[name] if ours_n[name] else math.nan
        deap_call = deap_ms * 1e3 / deap_n[name] if deap_n[name] else math.nan
        figures[f"profile_ours_ms_{name}"] = ours_ms
        figures[f"profile_ours_calls_{name}"] = ours_n[name]
        figures[f"profile_deap_ms_{name}"] = deap_ms
        figures[f"profile_deap_calls_{name}"] = deap_n[name]
        lines.append(
            f"  {name:<13} {ours_n[name]:>10,} {ours_ms:>9.1f} {ours_ms / ours_total / 10:>5.1f}%"
            f" {ours_call:>8.1f} {ours_call * 1e3 / n:>7.2f} | {deap_n[name]:>10,} "
            f"{deap_ms:>9.1f} {deap_ms / deap_total / 10:>5.1f}% {deap_call:>8.1f} "
            f"{deap_call / ours_call:>17.1f}x")
    return figures, lines


# --- machine --------------------------------------------------------------------------------

def parallel_capacity(n_threads: int, rounds: int = 3) -> float:
    """How many cores this process gets right now (a shared machine may lend fewer).

    A GIL-free numba loop runs once on one thread, then once on each of ``n_threads``
    threads at the same time; the capacity is ``n_threads * t_one / t_all`` (median of
    ``rounds``): ``n_threads`` on an idle machine, about 1 when other jobs hold the rest.
    """
    from numba import njit

    @njit(nogil=True)
    def spin(steps: int) -> float:
        total = 0.0
        for i in range(steps):
            total += math.sqrt(i + 1.0)
        return total

    spin(10)
    steps = 20_000_000
    start = time.perf_counter()
    spin(steps)
    one = time.perf_counter() - start
    samples = []
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        for _ in range(rounds):
            start = time.perf_counter()
            list(pool.map(spin, [steps] * n_threads))
            samples.append(n_threads * one / (time.perf_counter() - start))
    return statistics.median(samples)


def git_state() -> dict[str, Any]:
    """HEAD commit and the files under ``core/`` and ``configs/`` with uncommitted changes."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                                  text=True, timeout=30, check=False)
        except OSError:
            return ""
        return done.stdout if done.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "core", "configs")
             .splitlines() if line.strip()]
    return {"git_head": git("rev-parse", "--short", "HEAD").strip() or "unknown",
            "git_uncommitted_engine_files": ",".join(dirty)}


# --- report ---------------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    """CPU count, CPU model, load and library versions."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {
        "cpu_count": os.cpu_count() or 1,
        "cpu_model": model,
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "deap": importlib.metadata.version("deap"),
        "platform": platform.platform(),
    }


def goal_met(key: str, value: float) -> bool:
    """Whether ``value`` meets the issue's goal for figure ``key``."""
    op, threshold, _ = GOALS[key]
    return bool(value >= threshold if op == ">=" else value < threshold)


def goal_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, PASS/FAIL) rows for the summary table."""
    rows = []
    for key in (
        "eval_bar_evals_per_s", "eval_trees_per_s", "eval_bar_evals_per_s_all_cores",
        "eval_bar_evals_per_s_subset", "eval_bar_evals_per_s_unshared",
        "deap_numpy_bar_evals_per_s", "deap_trees_per_s", "ratio_vs_deap_numpy",
        "ratio_vs_deap_numpy_unshared", "shared_fraction", "baseline_agree_fraction",
        "pipeline_alphas_per_s_1core", "pipeline_eval_ms_per_alpha",
        "pipeline_mapping_ms_per_alpha", "pipeline_backtest_ms_per_alpha",
        "pipeline_equity_ms_per_alpha", "pipeline_sharpe_ms_per_alpha",
        "pipeline_alphas_per_s_1core_fused_sharpe",
    ):
        if key not in figures:
            continue
        value = figures[key]
        if "bar_evals_per_s" in key:
            shown = f"{_fmt_rate(value)} bar-evals/s"
        elif key.endswith("trees_per_s"):
            shown = f"{value:,.1f} trees/s"
        elif "alphas_per_s_1core" in key:
            shown = f"{value:,.1f} alphas/s"
        elif key.endswith("_ms_per_alpha"):
            shown = f"{value:.3f} ms"
        elif key.endswith("fraction"):
            shown = f"{value:.1%}"
        else:
            shown = f"{value:.2f}x"
        goal, verdict = "", ""
        if key in GOALS:
            goal = GOALS[key][2]
            verdict = "PASS" if goal_met(key, value) else "FAIL"
        rows.append((key, shown, goal, verdict))
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Print the summary table."""
    header = ("figure", "value", "goal", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every benchmark and return the flat figures.

    Raises:
        UsageError: On bad sizes or missing data.
    """
    path = resolve_data_dir(args.data) / DATA_FILE
    if not path.is_file():
        raise UsageError(f"data file not found: {path} "
                         "(use --data DIR or set EVOTRADER_SHARED_DATA)")
    n_trees = args.trees or (QUICK_TREES if args.quick else FULL_TREES)
    n_alphas = args.alphas or (QUICK_ALPHAS if args.quick else FULL_ALPHAS)
    deap_every = args.deap_every or (QUICK_DEAP_EVERY if args.quick else FULL_DEAP_EVERY)
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    if min(n_trees, n_alphas, deap_every, repeats) < 1 or deap_every > n_trees:
        raise UsageError("--trees, --alphas, --repeats must be >= 1 and "
                         "1 <= --deap-every <= --trees")
    n_threads = os.cpu_count() or 1

    figures: dict[str, Any] = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "quick": bool(args.quick),
        "date": time.strftime("%Y-%m-%d"),
    }
    info = machine_info()
    figures.update(info)
    figures.update(git_state())
    figures.update({"trees": n_trees, "alphas": n_alphas, "repeats": repeats, "seed": SEED,
                    "depth": f"{MIN_DEPTH}-{MAX_DEPTH}"})
    print(f"command: {figures['command']}")
    print(f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), "
          f"load {info['load_avg_1m_at_start']}; python {info['python']}, "
          f"numba {info['numba']}, numpy {info['numpy']}, pandas {info['pandas']}, "
          f"deap {info['deap']}")
    print(f"git: HEAD {figures['git_head']}; uncommitted engine files: "
          f"{figures['git_uncommitted_engine_files'] or 'none'}")
    clock = time.perf_counter()

    def section(found: dict[str, Any], lines: list[str]) -> None:
        figures.update(found)
        lines[0] += f"  (section took {time.perf_counter() - clock:.1f} s)"
        print("\n".join(lines), flush=True)

    market = load_market(path)
    work = build_workload(market, n_trees, n_alphas, deap_every)
    figures["data_file"] = str(path)
    note = "" if n_trees == FULL_TREES else f" (not the full {FULL_TREES:,})"
    print(f"data: {path.name}, {work.n_bars:,} bars; {n_trees:,} random trees{note} of depth "
          f"{MIN_DEPTH}-{MAX_DEPTH} (seed {SEED}), {n_alphas:,} alphas for the pipeline; "
          f"medians of {repeats} rounds (setup {time.perf_counter() - clock:.1f} s)", flush=True)

    clock = time.perf_counter()
    section(*check_figures(check_baseline(work)))
    clock = time.perf_counter()
    capacity = parallel_capacity(n_threads)
    figures["cores_available_probe"] = capacity
    print(f"[machine] parallel probe: this process gets ~{capacity:.2f} of {n_threads} cores "
          "right now (the all-cores figure is bounded by it)", flush=True)
    section(*bench_evaluation(work, repeats, n_threads))
    clock = time.perf_counter()
    section(*bench_pipeline(work, repeats))
    if args.profile:
        clock = time.perf_counter()
        section(*profile_operators(work))
    for key in GOALS:
        figures[f"goal_{key}_met"] = goal_met(key, figures[key])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        figures = run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    figures["elapsed_s"] = time.perf_counter() - started
    if hasattr(os, "getloadavg"):
        figures["load_avg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print()
    print_table(goal_rows(figures))
    print(f"elapsed {figures['elapsed_s']:.1f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
