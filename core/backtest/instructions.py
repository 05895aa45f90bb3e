"""What a strategy tells the backtester: target positions or entry/exit signals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from core.errors import BacktestError


@njit(cache=True, nogil=True)
def _targets_in_range(values: np.ndarray) -> bool:
    bad = 0
    for x in values:
        if x == x and not abs(x) <= 100.0:  # NaN passes; +-inf and |x| > 100 fail
            bad += 1
            break
    return bad == 0


def _columns(values: np.ndarray, name: str, dtype: type) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype != dtype:
        array = array.astype(dtype)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise BacktestError(f"{name} must be 1-D or 2-D, got shape {array.shape}")
    return np.asfortranarray(array)


@dataclass(frozen=True, slots=True)
class Targets:
    """Target positions per bar and column, as signed multiples of the sizing unit.

    ``+1`` is a full long, ``-1`` a full short (long/short mode only), ``0`` flat, fractions
    scale the size, ``NaN`` means "no instruction". An order is sent when the target
    changes; it fills at the next bar's open.
    """

    values: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _columns(self.values, "targets", np.float64))
        if not _targets_in_range(self.values.reshape(-1, order="A")):
            raise BacktestError("targets must be NaN or finite with |target| <= 100")

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_bars, n_columns)``."""
        return self.values.shape  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Signals:
    """Entry/exit signals per bar and column (booleans), acted on by the current position.

    A long entry opens a long when flat (or reverses a short in long/short mode); a long exit
    closes a long. Short entries/exits mirror them and are ignored in long-only mode. An
    entry and an exit of the same side on the same bar cancel each other.
    """

    entries: np.ndarray
    exits: np.ndarray
    short_entries: np.ndarray | None = None
    short_exits: np.ndarray | None = None

    def __post_init__(self) -> None:
        names = ("entries", "exits", "short_entries", "short_exits")
        shape = None
        for name in names:
            values = getattr(self, name)
            if values is None:
                continue
            array = _columns(values, name, np.bool_)
            if shape is not None and array.shape != shape:
                raise BacktestError(f"{name} has shape {array.shape}, expected {shape}")
            shape = array.shape
            object.__setattr__(self, name, array)
        if (self.short_entries is None) != (self.short_exits is None):
            raise BacktestError("give both short_entries and short_exits, or neither")

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_bars, n_columns)``."""
        return self.entries.shape  # type: ignore[return-value]


Instructions = Targets | Signals
