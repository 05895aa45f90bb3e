"""The exchange benchmark's phases measure what they say (tiny sizes, no Ray)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.bench_exchange import (
    _candles,
    _emulator,
    measure_orders,
    measure_overhead,
    measure_reconcile,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def candles(shared_data: Path):
    return _candles(shared_data, 1200)


def test_overhead_orders_and_reconcile_phases_give_sane_figures(candles) -> None:
    emulator = _emulator(candles)
    try:
        overhead = measure_overhead(emulator, 10)
    finally:
        emulator.stop()
    # a raw request opens a connection each time, ccxt keeps one alive: either may be faster
    assert overhead["raw_request_ms"] > 0 and overhead["ccxt_request_ms"] > 0
    assert overhead["ccxt_overhead_ratio"] == pytest.approx(
        overhead["ccxt_request_ms"] / overhead["raw_request_ms"])
    assert overhead["ccxt_overhead_ms"] == pytest.approx(
        overhead["ccxt_request_ms"] - overhead["raw_request_ms"])
    orders = measure_orders(candles, 10)
    assert orders["orders_per_s"] > 0 and orders["ccxt_orders_per_s"] > 0
    reconcile = measure_reconcile(candles, 30)
    assert reconcile["reconcile_open_orders"] == 30
    assert 0 < reconcile["reconcile_measured_s"] < 30
    assert reconcile["poll_1000_s"] > 0


def test_missing_data_exits_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_exchange.py"),
                           "--data", str(tmp_path / "none")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2 and "not found" in done.stderr
