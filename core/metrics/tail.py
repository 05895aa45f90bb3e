"""Historical tail risk: value at risk and expected shortfall (CVaR) of per-bar returns.

Both are reported as returns (typically negative), not as positive loss amounts. The tail of
``n`` observations at confidence ``level`` holds the worst ``k = ceil((1 - level) * n)`` returns
(at least one); ``(1 - level) * n`` is rounded to 9 decimals first so that float noise such as
``0.05 * 20 = 1.0000000000000009`` does not add an observation. NaN entries are skipped.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from core.errors import BacktestError
from core.metrics.returns import _as_observations


def _tail(returns: ArrayLike, level: float) -> np.ndarray:
    """Return the worst ``k`` returns in ascending order (empty if there are none)."""
    if not 0.0 < level < 1.0:
        raise BacktestError(f"level must lie strictly between 0 and 1, got {level}")
    x = np.sort(_as_observations(returns))
    if len(x) == 0:
        return x
    k = math.ceil(round((1.0 - level) * len(x), 9))
    return x[: min(max(k, 1), len(x))]


def value_at_risk(returns: ArrayLike, level: float = 0.95) -> float:
    """Historical value at risk: the best return inside the worst ``k`` (the tail's edge).

    Args:
        returns: Per-bar returns (NaN entries skipped).
        level: Confidence level in (0, 1), e.g. 0.95.

    Returns:
        The VaR as a return (``-0.03`` = a 3% loss); nan for empty input. Never below
        :func:`cvar` at the same level.

    Raises:
        BacktestError: If ``level`` is not strictly between 0 and 1.
    """
    tail = _tail(returns, level)
    return float(tail[-1]) if len(tail) else math.nan


def cvar(returns: ArrayLike, level: float = 0.95) -> float:
    """Historical expected shortfall: the mean of the worst ``ceil((1 - level) * n)`` returns.

    Args:
        returns: Per-bar returns (NaN entries skipped).
        level: Confidence level in (0, 1), e.g. 0.95.

    Returns:
        The CVaR as a return (typically negative); nan for empty input.

    Raises:
        BacktestError: If ``level`` is not strictly between 0 and 1.
    """
    tail = _tail(returns, level)
    return float(tail.mean()) if len(tail) else math.nan
