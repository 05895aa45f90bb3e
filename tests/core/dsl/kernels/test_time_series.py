"""Time-series kernels against slow per-window references, NaN warm-up and holes included."""

from __future__ import annotations

import numpy as np
import pytest

from core.dsl.kernels.extremes import SCAN_MAX_WINDOW
from core.dsl.kernels.rank import DIRECT_MAX_WINDOW, ts_rank_direct, ts_rank_fenwick
from core.dsl.operators import MAX_WINDOW, OPERATORS

from . import reference as ref
from .helpers import assert_close, run, series

EXACT = {"delay", "ts_min", "ts_max", "ts_argmin", "ts_argmax", "ts_rank"}
SINGLE = sorted(ref.TIME_SERIES)
PAIRS = sorted(ref.PAIRS)


def windows(name: str) -> list[int]:
    low = OPERATORS[name].min_window
    return sorted({low, low + 1, 5, SCAN_MAX_WINDOW + 1, 37, 120})


def check(name: str, inputs: list[np.ndarray], w: int) -> None:
    got = run(name, inputs, w)
    with np.errstate(invalid="ignore"):
        want = (ref.TIME_SERIES | ref.PAIRS)[name](*inputs, w)
    if name in EXACT:
        np.testing.assert_array_equal(got, want)
    else:
        assert_close(got, want)


@pytest.mark.parametrize("name", SINGLE + PAIRS)
@pytest.mark.parametrize(("n", "s", "kind"), [(300, 1, "normal"), (260, 4, "walk"),
                                               (240, 3, "flat")])
def test_matches_the_reference(name: str, n: int, s: int, kind: str) -> None:
    rng = np.random.default_rng(abs(hash((name, n, s, kind))) % 2**32)
    inputs = [series(rng, n, s, kind=kind, warmup=30, holes=2)
              for _ in range(2 if name in ref.PAIRS else 1)]
    for w in windows(name):
        check(name, inputs, w)


@pytest.mark.parametrize("name", ["ts_rank", "ts_argmax", "ts_argmin", "ts_min", "ts_max"])
def test_ties_resolve_as_specified(name: str) -> None:
    rng = np.random.default_rng(7)
    x = series(rng, 400, 3, kind="ties", warmup=20, holes=1)
    for w in windows(name):
        check(name, [x], w)


def test_long_rank_windows_use_the_fenwick_path() -> None:
    rng = np.random.default_rng(8)
    w = DIRECT_MAX_WINDOW + 1
    for kind in ("ties", "walk"):
        check("ts_rank", [series(rng, w + 150, 2, kind=kind, warmup=20, holes=1)], w)


@pytest.mark.parametrize("name", SINGLE + PAIRS)
def test_the_largest_window(name: str) -> None:
    rng = np.random.default_rng(11)
    inputs = [series(rng, MAX_WINDOW + 150, 1, kind="walk", warmup=40)
              for _ in range(2 if name in ref.PAIRS else 1)]
    check(name, inputs, MAX_WINDOW)


def test_rank_algorithms_agree_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for kind in ("normal", "ties", "flat"):
        x = series(rng, 500, 3, kind=kind, warmup=25, holes=3)
        x[5, 0], x[6, 0], x[7, 1] = -0.0, 0.0, np.inf
        for w in (2, 3, 9, 64, DIRECT_MAX_WINDOW + 1):
            a, b = np.empty_like(x), np.empty_like(x)
            ts_rank_direct(x.T, w, a.T)
            ts_rank_fenwick(x.T, w, b.T)
            np.testing.assert_array_equal(a, b)


def test_windows_longer_than_the_series_give_nan() -> None:
    x = series(np.random.default_rng(0), 30, 2)
    for name in SINGLE:
        assert np.isnan(run(name, [x], 31 if name not in {"delay", "delta"} else 30)).all()


def test_infinities() -> None:
    x = np.asfortranarray(np.array([[1.0, 2.0, np.inf, 3.0, 4.0, -np.inf, 5.0, 6.0, 7.0,
                                     np.inf, -np.inf, 8.0, 9.0, 10.0]]).T)
    for name in ["ts_sum", "ts_mean", "decay_linear", "ts_std", "ts_zscore", "ts_min",
                 "ts_max", "ts_argmax", "ts_argmin", "ts_rank", "delta"]:
        check(name, [x], 3)
    check("ts_corr", [x, x[::-1].copy(order="F")], 3)
    check("ts_cov", [x, x[::-1].copy(order="F")], 3)


def test_constant_windows_have_zero_dispersion() -> None:
    x = np.asfortranarray(np.array([[np.nan, 0.1, 0.1, 0.1, 0.1, 0.3, 0.3, 0.3]]).T)
    y = np.asfortranarray(np.arange(8.0)[:, None])
    nan = np.nan
    np.testing.assert_array_equal(run("ts_std", [x], 3)[:, 0],
                                  [nan, nan, nan, 0.0, 0.0, run("ts_std", [x], 3)[5, 0],
                                   run("ts_std", [x], 3)[6, 0], 0.0])
    assert run("ts_zscore", [x], 3)[3, 0] == 0.0
    assert run("ts_corr", [x, y], 3)[4, 0] == 0.0
    assert run("ts_cov", [x, y], 3)[4, 0] == 0.0
    assert run("ts_corr", [y, x], 3)[7, 0] == 0.0


def test_ema_restarts_after_a_nan() -> None:
    x = np.asfortranarray(np.array([[1.0, 2.0, 3.0, np.nan, 4.0, 6.0, 8.0]]).T)
    got = run("ema", [x], 2)[:, 0]
    alpha = 2 / 3
    np.testing.assert_allclose(
        got, [np.nan, 1.5, alpha * 3 + (1 - alpha) * 1.5, np.nan, np.nan, 5.0,
              alpha * 8 + (1 - alpha) * 5.0], rtol=1e-15)


def test_delay_and_delta_have_w_warmup_bars() -> None:
    x = np.asfortranarray(np.arange(6.0)[:, None] ** 2)
    np.testing.assert_array_equal(run("delay", [x], 2)[:, 0], [np.nan, np.nan, 0, 1, 4, 9])
    np.testing.assert_array_equal(run("delta", [x], 2)[:, 0], [np.nan, np.nan, 4, 8, 12, 16])
