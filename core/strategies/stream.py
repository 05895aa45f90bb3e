"""Streaming built-in strategies: new closes in, the targets of those bars out, O(window).

Each stream keeps the last ``window`` inputs of its indicators (a tail) and the loop state of
its kernels (rolling moments, EMA, hysteresis, frozen hedge ratio), and calls the resumable
twins of the very kernels the batch functions use (:func:`core.strategies.indicators.
comoments_from`, :func:`~core.strategies.indicators.ema_from`,
:func:`core.strategies.mean_reversion.hysteresis_from`,
:func:`core.strategies.pairs.leg_weights_from`) plus the same elementwise code. The batch
functions are those kernels started from the initial state, so the targets equal
``spec.compute`` over the whole history bit for bit, however the history is split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from core.errors import BacktestError
from core.strategies.indicators import (
    comoments_from,
    ema_from,
    fit_of_moments,
    residual_zscore,
    zscore_of_moments,
)
from core.strategies.mean_reversion import MeanReversionParams, hysteresis_from
from core.strategies.momentum import MomentumParams, cross_targets
from core.strategies.pairs import PairsParams, leg_weights_from


@dataclass(frozen=True, slots=True)
class BuiltinStreamState:
    """What a built-in stream carries between steps (plain arrays and ints).

    Attributes:
        bars: Bars seen so far.
        tail: Last inputs of the indicators, ``(<= window, series)``.
        floats: Float loop state of each kernel.
        ints: Integer loop state of each kernel.
    """

    bars: int
    tail: np.ndarray
    floats: tuple[np.ndarray, ...]
    ints: tuple[np.ndarray, ...]

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return self.tail.nbytes + sum(a.nbytes for a in (*self.floats, *self.ints))


def _comoments_state() -> tuple[np.ndarray, np.ndarray]:
    ints = np.zeros(2, np.int64)
    ints[0] = -1  # no bad bar yet
    return np.zeros(5), ints


class BuiltinStream:
    """Base of the streams: tail and state bookkeeping, committed only on success.

    Args:
        params: The strategy's validated parameters.
        state: Resume from a :meth:`to_state` snapshot.
    """

    window: int
    """Past inputs the indicators read."""
    series: int
    """Number of input columns (1, or 2 for pairs)."""

    def __init__(self, params: BaseModel, state: BuiltinStreamState | None = None) -> None:
        self.params = params
        self._configure()
        if state is None:
            floats, ints = self._initial()
            state = BuiltinStreamState(0, np.empty((0, self.series)), floats, ints)
        self._bars = state.bars
        self._tail = np.array(state.tail, dtype=np.float64)
        self._floats = tuple(np.array(f, dtype=np.float64) for f in state.floats)
        self._ints = tuple(np.array(i, dtype=np.int64) for i in state.ints)

    @property
    def bars(self) -> int:
        """Bars seen so far."""
        return self._bars

    def to_state(self) -> BuiltinStreamState:
        """A snapshot (copies) from which a new stream resumes identically."""
        return BuiltinStreamState(self._bars, self._tail.copy(),
                                  tuple(f.copy() for f in self._floats),
                                  tuple(i.copy() for i in self._ints))

    def step(self, close: np.ndarray) -> np.ndarray:
        """Targets ``(new_bars, symbols)`` of new closes ``(new_bars, symbols)``.

        Raises:
            BacktestError: On inputs the batch function refuses (then nothing changes).
        """
        close = np.asarray(close, dtype=np.float64)
        if close.ndim != 2 or close.shape[1] != self.series:
            raise BacktestError(f"expected closes of shape (bars, {self.series}), got "
                                f"{close.shape}")
        inputs = self._inputs(close)
        off = min(self.window, self._bars)
        buffer = np.vstack((self._tail[self._tail.shape[0] - off:], inputs))
        floats = tuple(f.copy() for f in self._floats)
        ints = tuple(i.copy() for i in self._ints)
        targets = self._compute(buffer, off, close, floats, ints)
        self._floats, self._ints = floats, ints
        self._tail = np.array(buffer[-self.window:])
        self._bars += close.shape[0]
        return targets

    # ---------------------------------------------------------------- subclass hooks
    def _configure(self) -> None:
        raise NotImplementedError

    def _initial(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        raise NotImplementedError

    def _inputs(self, close: np.ndarray) -> np.ndarray:
        return close

    def _compute(self, buffer: np.ndarray, off: int, close: np.ndarray,
                 floats: tuple[np.ndarray, ...], ints: tuple[np.ndarray, ...]) -> np.ndarray:
        raise NotImplementedError

    def _moments(self, x: np.ndarray, y: np.ndarray, off: int, window: int, fs: np.ndarray,
                 ist: np.ndarray) -> np.ndarray:
        out = np.full((5, x.shape[0] - off), np.nan)
        comoments_from(x, y, off, self._bars, window, fs, ist, out)
        return out


class MomentumStream(BuiltinStream):
    """Streaming :func:`core.strategies.momentum.momentum_targets`."""

    params: MomentumParams

    def _configure(self) -> None:
        self.window, self.series = self.params.slow, 1

    def _initial(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        if self.params.ma == "ema":
            return (np.zeros(1), np.zeros(1)), (np.zeros(1, np.int64), np.zeros(1, np.int64))
        (f1, i1), (f2, i2) = _comoments_state(), _comoments_state()
        return (f1, f2), (i1, i2)

    def _compute(self, buffer: np.ndarray, off: int, close: np.ndarray,
                 floats: tuple[np.ndarray, ...], ints: tuple[np.ndarray, ...]) -> np.ndarray:
        p = self.params
        x = np.ascontiguousarray(buffer[:, 0])
        averages = []
        for index, window in enumerate((p.fast, p.slow)):
            if p.ma == "ema":
                out = np.full(x.shape[0] - off, np.nan)
                ema_from(x, off, window, floats[index], ints[index], out)
                averages.append(out)
            else:
                averages.append(self._moments(x, x, off, window, floats[index],
                                              ints[index])[0])
        return cross_targets(averages[0], averages[1], p.allow_short)[:, None]


class MeanReversionStream(BuiltinStream):
    """Streaming :func:`core.strategies.mean_reversion.mean_reversion_targets`."""

    params: MeanReversionParams

    def _configure(self) -> None:
        self.window, self.series = self.params.lookback, 1

    def _initial(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        fm, im = _comoments_state()
        return (fm, np.zeros(1)), (im, np.zeros(1, np.int64))

    def _compute(self, buffer: np.ndarray, off: int, close: np.ndarray,
                 floats: tuple[np.ndarray, ...], ints: tuple[np.ndarray, ...]) -> np.ndarray:
        p = self.params
        x = np.ascontiguousarray(buffer[:, 0])
        moments = self._moments(x, x, off, p.lookback, floats[0], ints[0])
        z = np.ascontiguousarray(zscore_of_moments(x[off:], moments, p.lookback))
        out = np.full(z.shape[0], np.nan)
        hysteresis_from(z, float(p.entry_z), float(p.exit_z), bool(p.allow_short), floats[1],
                        ints[1], out)
        return out[:, None]


class PairsStream(BuiltinStream):
    """Streaming :func:`core.strategies.pairs.pairs_targets` (columns: A, B)."""

    params: PairsParams

    def _configure(self) -> None:
        self.window, self.series = self.params.lookback, 2

    def _initial(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        fm, im = _comoments_state()
        return (fm, np.zeros(1), np.zeros(2)), (im, np.zeros(1, np.int64))

    def _inputs(self, close: np.ndarray) -> np.ndarray:
        if not self.params.use_log:
            return close
        if np.any(close <= 0):
            raise BacktestError("pairs with use_log=True needs strictly positive prices")
        return np.log(close)

    def _compute(self, buffer: np.ndarray, off: int, close: np.ndarray,
                 floats: tuple[np.ndarray, ...], ints: tuple[np.ndarray, ...]) -> np.ndarray:
        p = self.params
        ya, xb = np.ascontiguousarray(buffer[:, 0]), np.ascontiguousarray(buffer[:, 1])
        moments = self._moments(xb, ya, off, p.lookback, floats[0], ints[0])
        beta, alpha, resid_ss = fit_of_moments(moments, p.lookback)
        z = residual_zscore(ya[off:], xb[off:], beta, alpha, resid_ss, p.lookback)
        state = np.full(z.shape[0], np.nan)
        hysteresis_from(np.ascontiguousarray(z), float(p.entry_z), float(p.exit_z), True,
                        floats[1], ints[1], state)
        a, b = close[:, 0], close[:, 1]
        hedge = beta if p.use_log else beta * b / a
        wa, wb = np.full(z.shape[0], np.nan), np.full(z.shape[0], np.nan)
        leg_weights_from(state, np.ascontiguousarray(hedge), floats[2], wa, wb)
        return np.column_stack((wa, wb))
