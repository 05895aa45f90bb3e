"""scripts/bench_evolve.py: smoke test on tiny sizes (speed is never asserted here).

The tiny run starts its own local Ray (2 CPUs) inside the subprocess and shuts it down.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.bench_evolve import GOALS, REQUIRED_KEYS, simulate_makespan

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_evolve.py"
ISSUE_KEYS = (
    "alphas_per_s_1worker",
    "alphas_per_s_2workers",
    "scaling_2workers",
    "ray_overhead_fraction",
    "peak_rss_mb_per_worker",
)
POSITIVE = (
    "alphas_per_s_inprocess",
    "alphas_per_s_inprocess_default_blas",
    "alphas_per_s_1worker",
    "alphas_per_s_2workers",
    "scaling_2workers",
    "scaling_bound_2workers",
    "peak_rss_mb_per_worker",
    "peak_rss_mb_per_worker_small",
    "memory_vs_population_ratio",
    "cores_available_probe",
    "ray_task_ms_noop",
    "ray_overhead_fraction_model",
    "sweep_batch4_alphas_per_s_2workers",
)
FINITE = (
    "ray_overhead_fraction",
    "ray_overhead_ms_per_task",
    "ray_idle_cpu_cores",
    "worker_parallelism_2workers",
)


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_tiny_run_writes_every_required_key(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_script("--genomes", "8", "--bars", "3000", "--repeats", "1",
                      "--memory-sizes", "4,16", "--sweep", "4", "--batch-size", "2",
                      "--json", str(out), "--data", str(shared_data))
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert list(figures)[:2] == ["command", "quick"]
    assert "--genomes 8" in figures["command"]
    assert figures["quick"] is False
    assert figures["genomes"] == 8 and figures["bars"] == 3_000
    assert figures["bars_full"] is False
    assert figures["symbols"] == "BTC/USDT,ETH/USDT"
    assert figures["batch_size"] == 2
    assert (figures["population_small"], figures["population_large"]) == (4, 16)
    for key in {*ISSUE_KEYS, *REQUIRED_KEYS, *POSITIVE, *FINITE} - {"ray_overhead_fraction_cpu"}:
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value), (key, value)
    for key in POSITIVE:
        assert figures[key] > 0, (key, figures[key])
    # A tiny run may use fewer CPU ticks than a ratio needs: then the figure says so (NaN,
    # written as null).
    cpu_in = figures["inprocess_cpu_ms_per_alpha"] * figures["genomes"] / 1e3
    cpu_1 = figures["ray_1worker_cpu_ms_per_alpha"] * figures["genomes"] / 1e3
    overhead_cpu = figures["ray_overhead_fraction_cpu"]
    if min(cpu_in, cpu_1) >= 5.0 / os.sysconf("SC_CLK_TCK"):
        assert overhead_cpu == pytest.approx(1.0 - cpu_in / cpu_1), (cpu_in, cpu_1)
    else:
        assert overhead_cpu is None, (cpu_in, cpu_1, overhead_cpu)
    # Ray computes exactly what the in-process loop computes.
    assert figures["identical_1worker"] is True
    assert figures["identical_2workers"] is True
    assert figures["sweep_mismatches"] == 0
    assert figures["warmed_workers"] == 2
    assert figures["workers_warm_verified"] is True
    for key in GOALS:
        assert isinstance(figures[f"goal_{key}_met"], bool)
    assert "figure" in done.stdout and "scaling_2workers" in done.stdout


def test_missing_data_exits_with_2(tmp_path: Path) -> None:
    env = {**os.environ, "EVOTRADER_SHARED_DATA": str(tmp_path / "nowhere")}
    done = run_script("--genomes", "2", "--repeats", "1", env=env)
    assert done.returncode == 2
    assert "not found" in done.stderr and "nowhere" in done.stderr


def test_bad_sizes_exit_with_2(shared_data: Path) -> None:
    done = run_script("--memory-sizes", "16,4", "--data", str(shared_data))
    assert done.returncode == 2
    assert "--memory-sizes" in done.stderr


def test_makespan_of_list_scheduling() -> None:
    assert simulate_makespan([1.0, 1.0, 1.0, 1.0], 2) == 2.0
    assert simulate_makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert simulate_makespan([1.0, 1.0, 1.0, 3.0], 2) == 4.0
    assert simulate_makespan([2.0], 1) == 2.0
