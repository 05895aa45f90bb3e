"""The exchange benchmark's phases measure what they say (tiny sizes, no Ray)."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actors.emulator import LoggedRequest
from scripts.bench_exchange import (
    MINUTE,
    _candles,
    _emulator,
    cpu_model,
    feed_requests,
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


def _logged(seq: int, path: str, venue_ms: int) -> LoggedRequest:
    return LoggedRequest(seq, "GET", path, {}, 200, None, venue_ms)


def test_the_feed_figures_count_what_the_feed_asked_around_each_close() -> None:
    closes = [10 * MINUTE, 11 * MINUTE]
    log = [_logged(1, "/api/v3/time", closes[0] - 1_500),  # the sample before the close
           _logged(2, "/api/v3/klines", closes[0] + 120),  # the read: 2 wall ms at 60x
           _logged(3, "/api/v3/order", closes[0] + 900),  # not the feed's
           _logged(4, "/api/v3/time", closes[1] - 1_400),
           _logged(5, "/api/v3/time", closes[1] + 60),  # a confirmation before the read
           _logged(6, "/api/v3/klines", closes[1] + 240),
           _logged(7, "/api/v3/klines", closes[1] + 40_000)]  # the next bar's: not counted
    figures = feed_requests(log, closes, 60.0)
    assert figures["venue_feed_requests_per_bar"] == 2.5
    assert figures["venue_feed_requests_after_close"] == 1.5  # 1, then 2 (time and klines)
    assert figures["venue_bar_read_ms"] == pytest.approx((2.0 + 4.0) / 2)
    assert feed_requests([], closes, 60.0)["venue_feed_requests_per_bar"] == 0


def test_the_cpu_is_named_as_lscpu_names_it() -> None:
    model = cpu_model()
    assert model.strip()
    if shutil.which("lscpu"):
        assert model != platform.machine()  # the model name, not "x86_64"
