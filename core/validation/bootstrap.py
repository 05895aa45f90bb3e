"""Block-bootstrap confidence intervals for the Sharpe ratio of autocorrelated returns.

Resampling single returns (the iid bootstrap) destroys serial dependence and understates the
uncertainty of a Sharpe ratio whenever returns are autocorrelated. Block bootstraps resample
whole stretches of the series instead:

* **stationary** (Politis and Romano 1994): blocks start at a uniform random bar and have
  geometric lengths with mean ``block`` (each next bar continues the block with probability
  ``1 - 1/block``), wrapping around the end; the resampled series is stationary.
* **circular** (Politis and Romano 1992): blocks of fixed length ``block`` start at uniform
  random bars and wrap around the end.

``block = 1`` with the stationary method is the iid bootstrap. The default block length is
``max(1, round(n ** (1/3)))``, the rate-optimal order ``n^(1/3)`` for variance estimation
(Hall, Horowitz and Jing 1995) with unit constant. The interval is the percentile interval of
the bootstrap Sharpe ratios.

References:
    D. N. Politis, J. P. Romano, "The Stationary Bootstrap", JASA 89(428), 1994.
    D. N. Politis, J. P. Romano, "A Circular Block-Resampling Procedure for Stationary Data",
    in *Exploring the Limits of Bootstrap*, Wiley 1992.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from core.metrics import sharpe_ratio
from core.validation.splits import ValidationError, check_int

# Resampled values generated at once (bounds memory at about 8 bytes times this).
_CHUNK_CELLS = 1_000_000
# A standard deviation at or below this fraction of |mean| is rounding noise: treated as zero.
_REL_ZERO_STD = 1e-12
# Largest share of degenerate (zero-variance) resamples tolerated before giving up.
_MAX_DEGENERATE = 0.01


class SharpeCI(NamedTuple):
    """A bootstrap confidence interval of the annualised Sharpe ratio.

    Attributes:
        low: Lower bound.
        high: Upper bound.
        point: Sharpe ratio of the original series (:func:`core.metrics.sharpe_ratio`).
    """

    low: float
    high: float
    point: float


def default_block_length(n: int) -> int:
    """Default block length ``max(1, round(n ** (1/3)))`` for ``n`` observations."""
    return max(1, round(n ** (1.0 / 3.0)))


def bootstrap_indices(
    n: int,
    n_boot: int,
    block: float,
    method: Literal["stationary", "circular"],
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw ``n_boot`` block-bootstrap index series of length ``n``.

    Args:
        n: Series length.
        n_boot: Number of resamples.
        block: Mean (stationary) or fixed (circular, rounded) block length, ``1 <= block <= n``.
        method: ``"stationary"`` or ``"circular"``.
        rng: Source of randomness.

    Returns:
        Integer array of shape ``(n_boot, n)`` with values in ``0 .. n-1``.
    """
    t = np.arange(n)
    if method == "stationary":
        starts = rng.integers(0, n, size=(n_boot, n))
        new = rng.random((n_boot, n)) < 1.0 / block
        new[:, 0] = True
        began = np.maximum.accumulate(np.where(new, t, 0), axis=1)
        return (np.take_along_axis(starts, began, axis=1) + t - began) % n
    length = max(1, round(block))
    starts = rng.integers(0, n, size=(n_boot, -(-n // length)))
    return (starts[:, t // length] + t % length) % n


def sharpe_bootstrap_ci(
    returns: ArrayLike,
    ppy: float,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    block: float | None = None,
    method: Literal["stationary", "circular"] = "stationary",
    seed: int | np.random.Generator = 0,
) -> SharpeCI:
    """Percentile block-bootstrap confidence interval of the annualised Sharpe ratio.

    Each resample's Sharpe ratio is ``mean / std(ddof=1) * sqrt(ppy)`` as in
    :func:`core.metrics.sharpe_ratio`; the interval is its ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles. NaN returns are skipped (no observation).

    Args:
        returns: Per-bar returns.
        ppy: Periods per year used to annualise.
        level: Confidence level in ``(0, 1)``.
        n_boot: Number of resamples (``>= 100``).
        block: Mean (stationary) or fixed (circular) block length in bars, ``1 <= block <= n``;
            ``None`` for ``max(1, round(n ** (1/3)))``.
        method: ``"stationary"`` (Politis-Romano 1994) or ``"circular"`` (1992).
        seed: Seed or generator; the same seed gives the same interval.

    Returns:
        :class:`SharpeCI` ``(low, high, point)``.

    Raises:
        ValidationError: For bad arguments, fewer than 3 observations, zero variance, or more
            than 1% of resamples with zero variance (series too short or too flat).
    """
    point = sharpe_ratio(returns, ppy)  # validates returns and ppy
    x = np.asarray(returns, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    if n < 3 or math.isnan(point):
        raise ValidationError(
            f"a Sharpe bootstrap needs at least 3 observations with non-zero variance, got {n}"
        )
    if not (math.isfinite(level) and 0.0 < level < 1.0):
        raise ValidationError(f"level must lie in (0, 1), got {level}")
    n_boot = check_int("n_boot", n_boot, 100)
    if method not in ("stationary", "circular"):
        raise ValidationError(f"method must be 'stationary' or 'circular', got {method!r}")
    block = float(default_block_length(n) if block is None else block)
    if not (math.isfinite(block) and 1.0 <= block <= n):
        raise ValidationError(f"block must lie in [1, n={n}], got {block}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    sharpes = np.empty(n_boot)
    chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        sample = x[bootstrap_indices(n, size, block, method, rng)]
        mean = sample.mean(axis=1)
        std = sample.std(axis=1, ddof=1)
        flat = std <= _REL_ZERO_STD * np.abs(mean)
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpes[start : start + size] = np.where(flat, np.nan, mean / std * math.sqrt(ppy))
    degenerate = int(np.isnan(sharpes).sum())
    if degenerate > _MAX_DEGENERATE * n_boot:
        raise ValidationError(
            f"{degenerate} of {n_boot} resamples have zero variance: the series ({n} returns) "
            "is too short or too flat for a Sharpe bootstrap"
        )
    tail = (1.0 - level) / 2.0
    low, high = np.nanquantile(sharpes, [tail, 1.0 - tail])
    return SharpeCI(low=float(low), high=float(high), point=float(point))
