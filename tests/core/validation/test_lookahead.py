"""Look-ahead / recursive-bias detector on known-good and known-biased signals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.strategies.indicators import ema as indicator_ema
from core.strategies.indicators import rolling_mean as indicator_rolling_mean
from core.validation import ValidationError, detect_bias

N = 500
X = 100.0 + np.cumsum(np.random.default_rng(17).normal(0.0, 1.0, N))


def trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Causal rolling mean, NaN until the window is full (and wherever it holds a NaN)."""
    out = np.full(len(x), np.nan)
    for i in range(window - 1, len(x)):
        out[i] = x[i - window + 1 : i + 1].mean()
    return out


def causal(start: int, stop: int) -> np.ndarray:
    return trailing_mean(X[start:stop], 20)


def rolled(start: int, stop: int) -> np.ndarray:
    return np.roll(X[start:stop], -1)  # bar i sees bar i + 1 (and the last bar wraps)


def mean_of_next(start: int, stop: int) -> np.ndarray:
    y = X[start:stop]
    return trailing_mean(np.append(y[1:], np.nan), 10)  # window ending at the next bar


def peeks_after_300(start: int, stop: int) -> np.ndarray:
    y = X[start:stop].copy()
    nxt = np.append(y[1:], np.nan)
    late = np.arange(start, stop) >= 300
    y[late] = nxt[late]
    return y


def centred(start: int, stop: int) -> np.ndarray:
    y, k = X[start:stop], 5
    out = np.full(len(y), np.nan)
    for i in range(k, len(y) - k):
        out[i] = y[i - k : i + k + 1].mean()
    return out


def seeded_ema(start: int, stop: int) -> np.ndarray:
    y, alpha = X[start:stop], 2.0 / 11.0
    out = np.empty(len(y))
    out[0] = y[0]  # seeded at the first bar it is given
    for i in range(1, len(y)):
        out[i] = out[i - 1] + alpha * (y[i] - out[i - 1])
    return out


def test_causal_rolling_mean_is_clean() -> None:
    report = detect_bias(causal, N)
    assert report.verdict == "clean"
    assert not report.lookahead and not report.recursive
    assert report.first_divergence is None and report.recursive_converges is None
    assert report.max_recursive_diff < 1e-9
    assert report.checks_run >= 15  # about 20 cuts and the 4 default starts (1, 10, 50, 200)
    explicit = detect_bias(causal, N, cuts=[50, 100], warmups=[10])
    assert explicit.checks_run == 3 and explicit.verdict == "clean"
    assert "clean" in report.summary()


def test_future_bar_via_roll_is_flagged_at_bar_zero() -> None:
    report = detect_bias(rolled, N)
    assert report.lookahead and report.verdict == "lookahead"
    first = report.first_divergence
    assert first is not None and first.check == "lookahead"
    # Bar 0 of the full run is X[1]; on data [0, 1) it can only be X[0].
    assert (first.offset, first.bar) == (1, 0)
    assert (first.expected, first.actual) == (X[1], X[0])
    assert first.column is None
    assert "LOOK-AHEAD" in report.summary() and "bar 0" in report.summary()


def test_first_divergent_bar_of_a_windowed_peek() -> None:
    report = detect_bias(mean_of_next, N)
    assert report.first_divergence is not None
    # The window ending at the next bar is first complete at bar 9 (it needs bars 1..10).
    assert report.first_divergence.bar == 9 and report.first_divergence.offset == 10
    assert np.isnan(report.first_divergence.actual)


def test_a_peek_that_starts_late_is_located() -> None:
    report = detect_bias(peeks_after_300, N)
    assert report.lookahead and report.first_divergence.bar == 300


def test_centred_moving_average_is_flagged() -> None:
    report = detect_bias(centred, N)
    assert report.lookahead
    assert report.first_divergence.bar == 5  # the first centred value needs bars 0..10


def test_ema_seeded_at_the_first_bar_is_recursive_but_converging() -> None:
    report = detect_bias(seeded_ema, N)
    assert not report.lookahead
    assert report.recursive and report.recursive_converges is True
    assert report.verdict == "recursive-converging"
    div = report.recursive_divergence
    assert div is not None and div.check == "recursive" and div.bar == div.offset == 1
    assert report.first_divergence == div
    assert report.max_recursive_diff > 0.1
    assert "converges" in report.summary()


def test_cumulative_sum_is_recursive_and_does_not_converge() -> None:
    def cum(start: int, stop: int) -> np.ndarray:
        return np.cumsum(X[start:stop])

    report = detect_bias(cum, N)
    assert not report.lookahead
    assert report.recursive and report.recursive_converges is False
    assert report.verdict == "recursive-persistent"
    assert "does not converge" in report.summary()


def test_project_indicators() -> None:
    # The strategies' own indicators: the SMA is clean; the SMA-seeded EMA depends on where the
    # data starts but forgets it.
    sma = detect_bias(lambda a, b: indicator_rolling_mean(X[a:b], 50), N)
    assert sma.verdict == "clean"
    ema = detect_bias(lambda a, b: indicator_ema(X[a:b], 10), N)
    assert ema.verdict == "recursive-converging"


def test_two_dimensional_signal_names_the_column() -> None:
    def signal(start: int, stop: int) -> np.ndarray:
        return np.column_stack([causal(start, stop), rolled(start, stop)])

    report = detect_bias(signal, N, cuts=[100, 400], warmups=[30])
    assert report.lookahead and report.first_divergence.column == 1
    # Bisection from the first divergent cut (100) down to cut 1.
    assert report.first_divergence.bar == 0
    assert "column 1" in report.summary()


def test_all_nan_warm_up_is_equal_to_itself() -> None:
    report = detect_bias(lambda a, b: np.full(b - a, np.nan), 50)
    assert report.verdict == "clean"


@settings(max_examples=25, deadline=None)
@given(shift=st.integers(1, 30), n=st.integers(40, 300), seed=st.integers(0, 100))
def test_any_future_shift_is_caught_at_bar_zero(shift: int, n: int, seed: int) -> None:
    def signal(start: int, stop: int) -> np.ndarray:
        y = X[start:stop]
        return np.concatenate([y[shift:], np.full(min(shift, len(y)), np.nan)])

    report = detect_bias(signal, n, seed=seed)
    assert report.lookahead and report.first_divergence.bar == 0


@settings(max_examples=25, deadline=None)
@given(window=st.integers(1, 60), n=st.integers(40, 300), seed=st.integers(0, 100))
def test_any_trailing_window_is_clean(window: int, n: int, seed: int) -> None:
    report = detect_bias(lambda a, b: trailing_mean(X[a:b], window), n, seed=seed)
    assert report.verdict == "clean"


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValidationError, match="expected 10 rows"):
        detect_bias(lambda a, b: np.zeros(b - a + 1), 10)
    with pytest.raises(ValidationError, match=r"signal_fn\(0, 1\) failed"):
        detect_bias(lambda a, b: trailing_mean(X[a:b], 5) if b - a > 3 else 1 / 0, 10, cuts=[1])
    with pytest.raises(ValidationError, match="cuts must lie"):
        detect_bias(causal, 10, cuts=[10])
    with pytest.raises(ValidationError, match="warm-up starts"):
        detect_bias(causal, 10, warmups=[9])
    with pytest.raises(ValidationError, match="n_bars must be >= 3"):
        detect_bias(causal, 2)
