"""Multiple-testing corrections: Benjamini-Hochberg (FDR) and Holm (FWER).

For ``m`` p-values sorted ascending, ``p_(1) <= ... <= p_(m)``:

* **Benjamini-Hochberg** step-up: reject ``H_(1) .. H_(k)`` with
  ``k = max{i : p_(i) <= i * alpha / m}``; adjusted ``q_(i) = min_{j >= i} min(1, m p_(j) / j)``.
  Controls the false discovery rate at ``alpha`` for independent (or positively dependent)
  tests (Benjamini and Hochberg 1995; Benjamini and Yekutieli 2001).
* **Holm** step-down: reject while ``p_(i) <= alpha / (m - i + 1)``; adjusted
  ``q_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``. Controls the family-wise error rate
  under any dependence (Holm 1979).

A hypothesis is rejected exactly when its adjusted p-value is ``<= alpha``. Because
``(m - i + 1) >= m / i`` for every ``1 <= i <= m``, Holm's adjusted p-values are never below
BH's, so Holm rejects a subset of what BH rejects, and BH a subset of the uncorrected
``p <= alpha``. Ties get equal adjusted p-values.

References:
    Y. Benjamini, Y. Hochberg, "Controlling the False Discovery Rate: A Practical and Powerful
    Approach to Multiple Testing", JRSS B 57(1), 1995.
    S. Holm, "A Simple Sequentially Rejective Multiple Test Procedure", Scand. J. Statist.
    6(2), 1979.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from core.validation.splits import ValidationError


class MultipleTestResult(NamedTuple):
    """Rejections and adjusted p-values, in the order of the input p-values.

    Attributes:
        rejected: Boolean mask, True where the null hypothesis is rejected.
        adjusted: Adjusted p-values in ``[0, 1]``.
    """

    rejected: np.ndarray
    adjusted: np.ndarray


def _prepare(p_values: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValidationError(f"p_values must be a non-empty 1-D array, got shape {p.shape}")
    bad = ~((p >= 0.0) & (p <= 1.0))  # also catches NaN
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"p-values must lie in [0, 1]; entry {i} is {p[i]}")
    if not (math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValidationError(f"alpha must lie in (0, 1), got {alpha}")
    return p, np.argsort(p, kind="stable")


def benjamini_hochberg(p_values: ArrayLike, alpha: float = 0.05) -> MultipleTestResult:
    """Benjamini-Hochberg step-up procedure controlling the false discovery rate.

    Args:
        p_values: 1-D p-values in ``[0, 1]``.
        alpha: Target false discovery rate ``q`` in ``(0, 1)``.

    Returns:
        :class:`MultipleTestResult` with the rejection mask and the BH-adjusted p-values.

    Raises:
        ValidationError: For empty, non-1-D or out-of-range p-values or a bad alpha.
    """
    p, order = _prepare(p_values, alpha)
    m = p.size
    scaled = p[order] * (m / np.arange(1, m + 1))  # factor >= 1: never rounds below p
    adjusted_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return MultipleTestResult(rejected=adjusted <= alpha, adjusted=adjusted)


def holm(p_values: ArrayLike, alpha: float = 0.05) -> MultipleTestResult:
    """Holm step-down procedure controlling the family-wise error rate.

    Args:
        p_values: 1-D p-values in ``[0, 1]``.
        alpha: Family-wise error rate in ``(0, 1)``.

    Returns:
        :class:`MultipleTestResult` with the rejection mask and the Holm-adjusted p-values.

    Raises:
        ValidationError: For empty, non-1-D or out-of-range p-values or a bad alpha.
    """
    p, order = _prepare(p_values, alpha)
    m = p.size
    scaled = p[order] * (m - np.arange(m))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return MultipleTestResult(rejected=adjusted <= alpha, adjusted=adjusted)
