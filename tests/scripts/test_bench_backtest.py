"""scripts/bench_backtest.py: smoke test on tiny sizes (speed is never asserted here)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "bench_backtest.py"
REQUIRED = (
    "sparse_bars_per_s_1core",
    "sparse_bars_per_s_all_cores",
    "scaling_all_cores",
    "real_bars_per_s_1core",
    "vectorbt_sparse_bars_per_s",
    "ratio_vs_vectorbt",
    "warm_start_s",
    "sparse_bars_per_s_1core_with_equity",
    "vectorbt_sparse_bars_per_s_with_equity",
    "ratio_vs_vectorbt_with_equity",
    "import_s",
)


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_tiny_run_writes_every_required_key(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_script("--bars", "20000", "--repeats", "1", "--no-cold", "--json", str(out),
                      "--data", str(shared_data))
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    assert list(figures)[:2] == ["command", "quick"]
    assert "--bars 20000" in figures["command"]
    assert figures["quick"] is False
    assert figures["sparse_bars"] == 20_000
    assert figures["real_bars"] > 100_000
    for key in REQUIRED:
        value = figures[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value) and value > 0, (key, value)
    # Same workload in both engines: identical fill and trade counts per column.
    for prefix in ("sparse", "real", "real_single"):
        assert figures[f"{prefix}_orders_match"], done.stdout
        assert figures[f"{prefix}_trades_match"], done.stdout
    assert "figure" in done.stdout and "vectorbt" in done.stdout


def test_missing_data_exits_with_2(tmp_path: Path) -> None:
    env = {**os.environ, "EVOTRADER_SHARED_DATA": str(tmp_path / "nowhere")}
    done = run_script("--bars", "20000", "--repeats", "1", env=env)
    assert done.returncode == 2
    assert "not found" in done.stderr and "nowhere" in done.stderr
