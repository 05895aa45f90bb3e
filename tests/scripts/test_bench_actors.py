"""scripts/bench_actors.py: a tiny end-to-end run on a real Ray (speed is never asserted).

The tiny run joins the tests' shared Ray (``--address``) from its subprocess, times the
in-process runners, runs one unpaced and one paced SIM session through ``run_session`` (the
session actor killed once), and leaves the cluster as it found it. Every goal figure must be
in the JSON with a finite value: a figure the script stopped producing fails here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.trading.latency import STAGES as SESSION_STAGES
from scripts.bench_actors import (
    AHEAD_STAGE,
    GOALS,
    REQUIRED_KEYS,
    STAGES,
    goal_rows,
    steps_at,
)
from scripts.bench_common import Goal

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_actors.py"
FIGURES = (
    "latency_p50_ms",
    "latency_p99_ms",
    "per_bar_cost_ratio",
    "session_restart_s",
    "sim_bars_per_s",
    "soak_rss_growth_fraction",
    "soak_p99_drift",
)
"""The figures the benchmark exists for (each has a goal)."""
POSITIVE = (
    *FIGURES[:5],
    "soak_p99_drift",
    "latency_steps",
    "per_bar_cost_ms_short_history",
    "per_bar_cost_ms_long_history",
    "soak_rss_mb_first",
    "session_restart_up_s",
    "ray_call_ms_p50",
    "ray_start_s",
)
FINITE = (
    *POSITIVE,
    "soak_rss_growth_fraction_actors",
    "latency_signal_p50_ms",
    "latency_risk_p50_ms",
    "latency_order_p50_ms",
    "latency_journal_p50_ms",
    "latency_rest_p50_ms",
    "latency_hdr_ack_p99_ms",
    "paced_steps_per_s_achieved",
)


def run_script(*args: str, env: dict[str, str] | None = None, timeout: float = 300
               ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_tiny_run_writes_every_figure(tmp_path: Path, shared_data: Path, ray_session) -> None:
    out = tmp_path / "bench.json"
    done = run_script("--quick", "--json", str(out), "--data", str(shared_data),
                      "--address", ray_session.address,
                      "--sim-bars", "4096", "--batch-bars", "2048", "--warmup-steps", "20",
                      "--soak-minutes", "0.15", "--kills", "1", "--history-bars", "20000",
                      "--cost-steps", "40")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    figures = json.loads(out.read_text())
    assert figures["quick"] is True
    assert figures["sim_batch_bars"] == 2048 and figures["sim_bars"] == 4096 * 2
    assert figures["sim_steps"] == 2
    assert figures["per_bar_cost_history_bars"] == 20_000
    assert figures["per_bar_cost_books"] == 4  # the live strategy + 3 candidates
    assert figures["session_restart_kills"] == 1 and figures["session_restart_failed"] == 0
    assert figures["paced_stop_reason"] == "benchmark done"
    for key in FINITE:
        value = figures.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
    for key in POSITIVE:
        assert figures[key] > 0, (key, figures[key])
    assert figures["latency_p99_ms"] >= figures["latency_p50_ms"]
    for key in FIGURES:
        assert isinstance(figures[f"goal_{key}_met"], bool)
    assert all(key in done.stdout for key in FIGURES)
    assert "PASS" in done.stdout or "FAIL" in done.stdout


def test_every_figure_has_a_goal() -> None:
    assert set(REQUIRED_KEYS) == set(GOALS) == set(FIGURES)


def test_the_stages_are_those_the_session_records() -> None:
    assert (*STAGES[:1], AHEAD_STAGE, *STAGES[1:]) == SESSION_STAGES and STAGES[-1] == "ack"
    assert {f"latency_{s}_p50_ms" for s in STAGES[:-1]} <= set(FINITE)


def test_a_missing_figure_fails_its_goal() -> None:
    rows = {row[0]: row for row in goal_rows({"per_bar_cost_ratio": 1.05})}
    assert rows["per_bar_cost_ratio"][3] == "PASS"
    assert rows["latency_p50_ms"][1:] == ("n/a", "<= 5 ms", "FAIL")
    assert Goal(">=", 24_000.0, "").met(24_000)
    assert not Goal("<", 0.02, "").met(0.02)
    assert not Goal("<=", 2.0, "").met(math.nan) and not Goal("<=", 2.0, "").met(True)


def test_steps_at_takes_the_last_sample_before() -> None:
    progress = [(10.0, 100), (11.0, 120), (12.0, 140)]
    assert steps_at(progress, 11.5) == 120
    assert steps_at(progress, 12.0) == 140
    assert steps_at(progress, 5.0) == 100


def test_missing_data_exits_with_2(tmp_path: Path) -> None:
    env = {**os.environ, "EVOTRADER_SHARED_DATA": str(tmp_path / "nowhere")}
    done = run_script("--quick", env=env, timeout=120)
    assert done.returncode == 2
    assert "not found" in done.stderr and "nowhere" in done.stderr


def test_bad_usage_exits_with_2(shared_data: Path) -> None:
    for args, flag in ((("--kills", "0"), "--kills"),
                       (("--soak-minutes", "10000"), "--soak-minutes"),
                       (("--history-bars", "50"), "--history-bars")):
        done = run_script(*args, "--data", str(shared_data), timeout=120)
        assert done.returncode == 2, args
        assert flag in done.stderr, (args, done.stderr)
