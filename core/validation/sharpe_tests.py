"""Probabilistic and Deflated Sharpe Ratios, expected maximum Sharpe, minimum track record.

All Sharpe ratios here are **per period** (not annualised): ``SR = mean / std`` of the per-bar
returns; divide an annualised ratio by ``sqrt(periods_per_year)`` first. Kurtosis is the
**non-excess** (Pearson) kurtosis: 3 for a normal distribution.

The estimated Sharpe ratio of ``n`` returns with skewness ``g3`` and kurtosis ``g4`` is
asymptotically normal with standard deviation
``sqrt((1 - g3 * SR + (g4 - 1) / 4 * SR**2) / (n - 1))`` (Lo 2002, Mertens 2002; Bailey and
López de Prado 2012), which gives the tests below.

References:
    D. H. Bailey, M. López de Prado, "The Sharpe Ratio Efficient Frontier", Journal of Risk
    15(2), 2012 (PSR and minimum track record length).
    D. H. Bailey, M. López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias,
    Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from core.metrics import sharpe_ratio
from core.validation.splits import ValidationError, check_int


def _finite(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    return number


def _variance_term(sr: float, skew: float, kurtosis: float) -> float:
    """``1 - g3 * SR + (g4 - 1) / 4 * SR**2``, after checking the moments are consistent."""
    sr = _finite("sr", sr)
    skew = _finite("skew", skew)
    kurtosis = _finite("kurtosis", kurtosis)
    if kurtosis < 1.0 + skew * skew - 1e-12:
        raise ValidationError(
            f"kurtosis={kurtosis} is impossible with skew={skew} (every distribution has "
            f"kurtosis >= 1 + skew**2 = {1.0 + skew * skew}); kurtosis must be NON-excess "
            "(normal = 3): did you pass excess kurtosis?"
        )
    term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not term > 0.0:
        raise ValidationError(
            f"degenerate moments: 1 - skew*SR + (kurtosis-1)/4*SR^2 = {term} for SR={sr}, "
            f"skew={skew}, kurtosis={kurtosis}"
        )
    return term


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: int, skew: float, kurtosis: float
) -> float:
    """Probabilistic Sharpe Ratio: the probability that the true SR exceeds a benchmark.

    ``PSR(SR*) = Phi((SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR**2))``
    (Bailey and López de Prado 2012).

    Args:
        sr: Observed per-period Sharpe ratio.
        sr_benchmark: Benchmark per-period Sharpe ratio ``SR*``.
        n: Number of return observations (``>= 2``).
        skew: Skewness ``g3`` of the returns.
        kurtosis: Non-excess kurtosis ``g4`` of the returns (normal = 3).

    Returns:
        PSR in ``[0, 1]``.

    Raises:
        ValidationError: For non-finite inputs, ``n < 2`` or impossible moments.
    """
    n = check_int("n", n, 2)
    term = _variance_term(sr, skew, kurtosis)
    z = (float(sr) - _finite("sr_benchmark", sr_benchmark)) * math.sqrt(n - 1) / math.sqrt(term)
    return float(stats.norm.cdf(z))


def psr_from_returns(returns: ArrayLike, sr_benchmark: float = 0.0) -> float:
    """PSR of a return series against a per-period benchmark Sharpe ratio.

    The Sharpe ratio is :func:`core.metrics.sharpe_ratio` with ``ppy=1`` (sample std,
    ``ddof=1``); skewness and kurtosis are the sample moments of the empirical distribution
    (``scipy.stats.skew/kurtosis`` with ``bias=True``, kurtosis non-excess), which always
    satisfy ``g4 >= 1 + g3**2``. NaN entries are skipped.

    Args:
        returns: Per-bar returns.
        sr_benchmark: Benchmark per-period Sharpe ratio.

    Returns:
        PSR in ``[0, 1]``.

    Raises:
        ValidationError: With fewer than two observations or zero variance.
        BacktestError: For non-1-D, non-numeric or infinite returns.
    """
    sr = sharpe_ratio(returns, 1.0)
    if math.isnan(sr):
        raise ValidationError("PSR needs at least two return observations with non-zero variance")
    x = np.asarray(returns, dtype=np.float64)
    x = x[~np.isnan(x)]
    skew = float(stats.skew(x, bias=True))
    kurtosis = float(stats.kurtosis(x, fisher=False, bias=True))
    return probabilistic_sharpe_ratio(sr, sr_benchmark, len(x), skew, kurtosis)


def expected_max_sharpe(n_trials: int, var_trials_sr: float) -> float:
    """Expected maximum Sharpe ratio of ``N`` unskilled trials (False Strategy Theorem).

    ``E[max SR] = sqrt(V) * ((1 - gamma) * Phi^-1(1 - 1/N) + gamma * Phi^-1(1 - 1/(N e)))``
    with ``gamma`` the Euler-Mascheroni constant and ``V`` the variance of the trials' Sharpe
    ratios (Bailey and López de Prado 2014). For ``N = 1`` there is no selection and the
    benchmark is 0.

    Args:
        n_trials: Number of independent trials ``N >= 1``.
        var_trials_sr: Variance ``V >= 0`` of the trials' per-period Sharpe ratios.

    Returns:
        The expected maximum per-period Sharpe ratio (``>= 0``).

    Raises:
        ValidationError: For ``N < 1`` or a negative / non-finite variance.
    """
    n_trials = check_int("n_trials", n_trials, 1)
    var = _finite("var_trials_sr", var_trials_sr)
    if var < 0.0:
        raise ValidationError(f"var_trials_sr must be >= 0, got {var}")
    if n_trials == 1:
        return 0.0
    gamma = float(np.euler_gamma)
    z = (1.0 - gamma) * stats.norm.ppf(1.0 - 1.0 / n_trials) + gamma * stats.norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return float(math.sqrt(var) * z)


def deflated_sharpe_ratio(
    sr: float, n: int, skew: float, kurtosis: float, n_trials: int, var_trials_sr: float
) -> float:
    """Deflated Sharpe Ratio: PSR against the expected maximum SR of the trials.

    ``DSR = PSR(SR*)`` with ``SR* = expected_max_sharpe(N, V)`` (Bailey and López de Prado
    2014). It corrects for selection among ``N`` trials, non-normality and track length.

    Args:
        sr: Observed per-period Sharpe ratio of the selected strategy.
        n: Number of its return observations (``>= 2``).
        skew: Skewness of its returns.
        kurtosis: Non-excess kurtosis of its returns (normal = 3).
        n_trials: Number of independent trials ``N`` behind the selection.
        var_trials_sr: Variance ``V`` of the trials' per-period Sharpe ratios.

    Returns:
        DSR in ``[0, 1]``; it never exceeds ``PSR(0)`` and falls as ``N`` grows (``V > 0``).

    Raises:
        ValidationError: For invalid arguments (see the two functions it combines).
    """
    benchmark = expected_max_sharpe(n_trials, var_trials_sr)
    return probabilistic_sharpe_ratio(sr, benchmark, n, skew, kurtosis)


def min_track_record_length(
    sr: float, sr_benchmark: float, skew: float, kurtosis: float, confidence: float = 0.95
) -> float:
    """Minimum track record length for ``PSR(SR*) >= confidence``.

    ``MinTRL = 1 + (1 - g3 * SR + (g4 - 1) / 4 * SR**2) * (Phi^-1(confidence) / (SR - SR*))**2``
    (Bailey and López de Prado 2012), in number of observations.

    Args:
        sr: Observed per-period Sharpe ratio.
        sr_benchmark: Benchmark per-period Sharpe ratio ``SR*``.
        skew: Skewness of the returns.
        kurtosis: Non-excess kurtosis of the returns (normal = 3).
        confidence: Required probability, ``0.5 < confidence < 1``.

    Returns:
        The (real-valued) number of observations; ``inf`` when ``SR <= SR*`` (no track record
        is long enough).

    Raises:
        ValidationError: For non-finite inputs, impossible moments or a bad confidence.
    """
    confidence = _finite("confidence", confidence)
    if not 0.5 < confidence < 1.0:
        raise ValidationError(f"confidence must lie in (0.5, 1), got {confidence}")
    term = _variance_term(sr, skew, kurtosis)
    gap = float(sr) - _finite("sr_benchmark", sr_benchmark)
    if gap <= 0.0:
        return math.inf
    return float(1.0 + term * (stats.norm.ppf(confidence) / gap) ** 2)
