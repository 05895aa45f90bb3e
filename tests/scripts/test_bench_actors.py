"""scripts/bench_actors.py: a tiny end-to-end run (speed is never asserted) and usage errors.

The tiny run starts its own local Ray (2 CPUs) inside the subprocess, runs one unpaced and
one paced SIM session through ``run_session`` (with one kill), and shuts Ray down.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actors.live.tree import SessionNames
from scripts.bench_actors import (
    GOALS,
    KILL_ROLES,
    REQUIRED_KEYS,
    PacedBench,
    edge_medians,
    goal_met,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_actors.py"
POSITIVE = (
    "sim_bars_per_s",
    "inprocess_bars_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "restart_median_s",
    "restart_resume_median_s",
    "soak_rss_mb_first",
    "ray_start_s",
)
FINITE = (
    *REQUIRED_KEYS,
    "soak_rss_growth_fraction_excl_ray_system",
    "latency_residual_p50_ms",
    "paced_steps_per_s_achieved",
)


def run_script(*args: str, env: dict[str, str] | None = None, timeout: float = 300
               ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_tiny_run_writes_every_required_key(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_script("--quick", "--json", str(out), "--data", str(shared_data),
                      "--sim-bars", "4096", "--batch-bars", "2048", "--warmup-steps", "10",
                      "--latency-steps", "30", "--soak-minutes", "0.1", "--kills", "1",
                      "--inprocess")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    figures = json.loads(out.read_text())
    assert figures["quick"] is True
    assert figures["batch_bars"] == 2048
    assert figures["symbols"] == "BTC/USDT,ETH/USDT" and figures["timeframe"] == "1m"
    assert figures["sim_bars"] == 4096 * 2
    assert "sim_bars_per_s_no_candidates" not in figures  # not with --quick
    assert figures["sim_steps"] == 2
    assert figures["latency_steps"] == 30
    assert figures["restart_kills"] == 1 and figures["restart_failed"] == 0
    assert figures["paced_stop_reason"] == "benchmark done"
    for key in {*FINITE, *POSITIVE}:
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value), (key, value)
    for key in POSITIVE:
        assert figures[key] > 0, (key, figures[key])
    assert figures["latency_p99_ms"] >= figures["latency_p50_ms"]
    for key in GOALS:
        assert isinstance(figures[f"goal_{key}_met"], bool)
    assert "sim_bars_per_s" in done.stdout and "PASS" in done.stdout + "FAIL"


def test_missing_data_exits_with_2(tmp_path: Path) -> None:
    env = {**os.environ, "EVOTRADER_SHARED_DATA": str(tmp_path / "nowhere")}
    done = run_script("--quick", env=env, timeout=120)
    assert done.returncode == 2
    assert "not found" in done.stderr and "nowhere" in done.stderr


def test_bad_usage_exits_with_2(shared_data: Path) -> None:
    done = run_script("--kills", "-1", "--data", str(shared_data), timeout=120)
    assert done.returncode == 2
    assert "--kills" in done.stderr
    done = run_script("--soak-minutes", "10000", "--data", str(shared_data), timeout=120)
    assert done.returncode == 2
    assert "--soak-minutes" in done.stderr


def test_kills_cover_every_role_with_both_methods(tmp_path: Path) -> None:
    names = SessionNames.build(["BTC/USDT", "ETH/USDT"], ["a", "b", "c"])
    bench = PacedBench.__new__(PacedBench)
    bench.names = names
    targets = [bench.target(i) for i in range(2 * len(KILL_ROLES))]
    assert {(role, method) for role, _, method in targets} == {
        (role, method) for role in KILL_ROLES for method in ("SIGKILL", "ray.kill")}
    assert {name for role, name, _ in targets if role == "feed"} == set(names.feeds)
    assert all(name in names.all() for _, name, _ in targets)


def test_edge_medians_and_goals() -> None:
    assert edge_medians(list(range(100))) == (4.5, 94.5)
    assert edge_medians([3.0]) == (3.0, 3.0)
    assert goal_met("sim_bars_per_s", 250_000.0)
    assert not goal_met("latency_p50_ms", 10.0)
    assert not goal_met("restart_median_s", math.nan)
