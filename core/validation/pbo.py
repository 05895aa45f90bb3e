"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Given a ``T x N`` matrix of per-period returns of ``N`` trials (strategy configurations):

1. cut the rows into ``S`` (even) contiguous submatrices of near-equal size;
2. for each of the ``C(S, S/2)`` ways to choose ``S/2`` submatrices as in-sample (IS), the
   other half being out-of-sample (OOS), compute the metric of every trial on both halves;
3. select ``n* = argmax`` of the IS metric, take the relative rank of its OOS metric among the
   ``N`` OOS metrics, ``w = rank / (N + 1)`` (ranks ``1..N`` ascending, ties averaged), and the
   logit ``lambda = ln(w / (1 - w))``;
4. ``PBO = #{lambda <= 0} / C(S, S/2)``: how often the IS winner is at or below the OOS median.

Performance degradation is the OLS line ``OOS = intercept + slope * IS`` through the selected
trials' (IS, OOS) metrics; ``prob_oos_loss`` is the fraction of combinations whose selected
trial has a negative OOS metric.

Reference: D. H. Bailey, J. Borwein, M. López de Prado, Q. J. Zhu, "The Probability of
Backtest Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253, 2014).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from core.validation.splits import ValidationError, block_bounds, check_int

# A standard deviation at or below this fraction of |mean| is rounding noise: treated as zero.
_REL_ZERO_STD = 1e-12
# Combinations evaluated together (bounds memory at about _CHUNK * N floats per array).
_CHUNK_CELLS = 2_000_000


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of :func:`probability_of_backtest_overfitting`.

    Attributes:
        pbo: Probability of backtest overfitting, the fraction of logits ``<= 0``.
        logits: ``lambda_c`` of every combination.
        n_combinations: ``C(S, S/2)``.
        is_best_oos_rank: Relative OOS rank ``w_c`` in ``(0, 1)`` of each IS winner.
        is_performance: IS metric of the selected trial, per combination.
        oos_performance: OOS metric of the selected trial, per combination.
        degradation_slope: Slope of the OLS fit of OOS on IS performance (nan if IS constant).
        degradation_intercept: Intercept of that fit (nan if IS constant).
        prob_oos_loss: Fraction of combinations whose selected trial has OOS metric ``< 0``.
    """

    pbo: float
    logits: np.ndarray
    n_combinations: int
    is_best_oos_rank: np.ndarray
    is_performance: np.ndarray
    oos_performance: np.ndarray
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float


def _sharpe_from_moments(
    cnt: np.ndarray, mean: np.ndarray, m2: np.ndarray, all_zero: np.ndarray
) -> np.ndarray:
    """Per-period Sharpe ``mean / std(ddof=1)`` per row; all-zero (flat) series give 0."""
    std = np.sqrt(np.maximum(m2, 0.0) / (cnt - 1.0)[:, None])
    flat = (std <= _REL_ZERO_STD * np.abs(mean)) & ~all_zero
    if np.any(flat):
        column = int(np.flatnonzero(flat.any(axis=0))[0])
        raise ValidationError(
            f"trial {column} has constant non-zero returns over a CSCV half: its Sharpe ratio "
            "is undefined; drop it or pass a metric that handles it"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(all_zero, 0.0, mean / np.where(all_zero, 1.0, std))


def _block_moments(data: np.ndarray, bounds: list[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Counts, centred means, centred sums of squares, non-zero flags of the blocks; the level.

    The data are centred on the column means first so that no large level cancels when the
    moments of a union of blocks are pooled.
    """
    level = data.mean(axis=0)
    centred = data - level
    cnt = np.array([b - a for a, b in bounds], dtype=np.float64)
    means = np.stack([centred[a:b].mean(axis=0) for a, b in bounds])
    m2 = np.stack([((centred[a:b] - means[g]) ** 2).sum(axis=0) for g, (a, b) in enumerate(bounds)])
    active = np.stack([np.any(data[a:b] != 0.0, axis=0) for a, b in bounds]).astype(np.float64)
    return cnt, means, m2, active, level


def _half_sharpes(
    moments: tuple[np.ndarray, ...], member: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-period Sharpe of every trial on the IS blocks (``member``) and on the others.

    Pools the block moments exactly (Chan, Golub and LeVeque):
    ``M2 = sum M2_g + sum n_g * d_g**2 - n * d**2`` with centred block means ``d_g``.
    """
    cnt, means, m2, active, level = moments
    out = []
    for weights in (member, 1.0 - member):
        n = weights @ cnt
        dmean = (weights @ (cnt[:, None] * means)) / n[:, None]
        pooled = weights @ m2 + weights @ (cnt[:, None] * means**2) - n[:, None] * dmean**2
        out.append(_sharpe_from_moments(n, dmean + level, pooled, weights @ active == 0.0))
    return out[0], out[1]


def _custom_metric(
    data: np.ndarray,
    bounds: list[tuple[int, int]],
    combos: list[tuple[int, ...]],
    metric: Callable[[np.ndarray], ArrayLike],
) -> tuple[np.ndarray, np.ndarray]:
    n_trials = data.shape[1]
    results = []
    for combo in combos:
        halves = (combo, tuple(g for g in range(len(bounds)) if g not in combo))
        for half in halves:
            rows = np.concatenate([np.arange(*bounds[g]) for g in half])
            values = np.asarray(metric(data[rows]), dtype=np.float64)
            if values.shape != (n_trials,) or not np.all(np.isfinite(values)):
                raise ValidationError(
                    f"metric must return {n_trials} finite values (one per trial column), got "
                    f"shape {values.shape} with {int(np.sum(~np.isfinite(values)))} non-finite"
                )
            results.append(values)
    stacked = np.array(results).reshape(len(combos), 2, n_trials)
    return stacked[:, 0], stacked[:, 1]


def probability_of_backtest_overfitting(
    returns: ArrayLike,
    n_submatrices: int = 16,
    *,
    metric: Callable[[np.ndarray], ArrayLike] | None = None,
) -> PBOResult:
    """PBO of a family of trials by CSCV (Bailey, Borwein, López de Prado and Zhu).

    Args:
        returns: ``T x N`` per-period returns, one column per trial (``N >= 2``), finite.
        n_submatrices: Even number ``S >= 2`` of row blocks; ``C(S, S/2)`` combinations are
            evaluated (16 gives 12,870). Each half must hold at least two rows.
        metric: Performance of each column of a ``rows x N`` matrix, returning ``N`` finite
            values (higher is better). Default: per-period Sharpe ``mean / std(ddof=1)``, with
            a flat all-zero column scoring 0.

    Returns:
        The :class:`PBOResult`.

    Raises:
        ValidationError: For a non-2-D or non-finite matrix, fewer than two trials, an odd or too
            large ``S``, or a metric that is undefined on some half.
    """
    data = np.asarray(returns, dtype=np.float64)
    if data.ndim != 2:
        raise ValidationError(f"returns must be a T x N matrix, got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        row, col = np.argwhere(~np.isfinite(data))[0]
        raise ValidationError(
            f"returns must be finite; row {row}, trial {col} is {data[row, col]} "
            "(fill periods without a position with 0)"
        )
    t_rows, n_trials = data.shape
    s = check_int("n_submatrices", n_submatrices, 2)
    if s % 2:
        raise ValidationError(f"n_submatrices must be even, got {s}")
    if n_trials < 2:
        raise ValidationError(f"PBO needs at least 2 trials (columns), got {n_trials}")
    if (t_rows // s) * (s // 2) < 2:
        raise ValidationError(
            f"T={t_rows} rows are too few for S={s} submatrices: each half needs >= 2 rows"
        )
    bounds = block_bounds(0, t_rows, s)
    combos = list(itertools.combinations(range(s), s // 2))
    if metric is None:
        chunk = max(1, _CHUNK_CELLS // n_trials)
        moments = _block_moments(data, bounds)
        is_parts, oos_parts = [], []
        for start in range(0, len(combos), chunk):
            member = np.zeros((len(combos[start : start + chunk]), s))
            for row, combo in enumerate(combos[start : start + chunk]):
                member[row, list(combo)] = 1.0
            ins, outs = _half_sharpes(moments, member)
            is_parts.append(ins)
            oos_parts.append(outs)
        is_perf, oos_perf = np.concatenate(is_parts), np.concatenate(oos_parts)
    else:
        is_perf, oos_perf = _custom_metric(data, bounds, combos, metric)
    return _summarise(is_perf, oos_perf)


def _summarise(is_perf: np.ndarray, oos_perf: np.ndarray) -> PBOResult:
    """Select the IS winners, rank them OOS and summarise (steps 3 and 4 above)."""
    n_comb, n_trials = is_perf.shape
    best = np.argmax(is_perf, axis=1)  # ties: the first trial
    rows = np.arange(n_comb)
    selected_is = is_perf[rows, best]
    selected_oos = oos_perf[rows, best]
    below = (oos_perf < selected_oos[:, None]).sum(axis=1)
    equal = (oos_perf == selected_oos[:, None]).sum(axis=1)  # includes the winner itself
    omega = (below + (equal + 1) / 2.0) / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    dx = selected_is - selected_is.mean()
    if np.any(dx != 0.0):  # OLS of OOS on IS performance
        slope = float(dx @ (selected_oos - selected_oos.mean()) / (dx @ dx))
        intercept = float(selected_oos.mean() - slope * selected_is.mean())
    else:
        slope = intercept = math.nan
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        n_combinations=n_comb,
        is_best_oos_rank=omega,
        is_performance=selected_is,
        oos_performance=selected_oos,
        degradation_slope=float(slope),
        degradation_intercept=float(intercept),
        prob_oos_loss=float(np.mean(selected_oos < 0.0)),
    )


def pbo_cscv(
    returns: ArrayLike,
    n_blocks: int = 16,
    *,
    metric: Callable[[np.ndarray], ArrayLike] | None = None,
) -> PBOResult:
    """Short name of :func:`probability_of_backtest_overfitting` (``n_blocks`` is ``S``).

    Args:
        returns: ``T x N`` per-period returns, one column per trial.
        n_blocks: Even number ``S`` of row blocks (submatrices).
        metric: Optional performance metric (see the full function).

    Returns:
        The :class:`PBOResult`.
    """
    return probability_of_backtest_overfitting(returns, n_blocks, metric=metric)
