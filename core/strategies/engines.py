"""Target engines: what turns a strategy's new bars into targets, causally, step by step.

Three kinds, one interface (:meth:`advance`):

* :class:`StreamEngine` over an :class:`core.dsl.stream_alpha.AlphaStream` (a DSL alpha) or a
  :class:`core.strategies.stream.BuiltinStream` (a registry built-in): constant cost and
  memory per step, equal to the batch computation bit for bit;
* :class:`HistoryEngine` for a plug-in spec without a streaming twin: it keeps the whole
  history and recomputes ``spec.compute`` on it at every step (cost and memory grow with the
  history), refusing a strategy whose past targets change (not causal).

A failed step changes nothing but remembers its bars as *pending*: the next successful step
computes them first and returns their targets ahead of the new ones (so nothing is skipped and
the stream stays equal to the batch). Pending bars are bounded by :data:`MAX_PENDING_BARS`;
past that the stream engine gives up and every later step fails with the same message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from configs.alpha import MappingConfig
from core.data.candles import Candles, SeriesMeta
from core.dsl.nodes import Node
from core.strategies.registry import StrategySpec
from core.strategies.stream import BuiltinStream, BuiltinStreamState

if TYPE_CHECKING:  # the DSL's kernels load only in processes that run an alpha
    from core.dsl.stream_alpha import AlphaStream, AlphaStreamState

MAX_PENDING_BARS = 50_000
"""Bars of failed steps a stream engine keeps for a retry before giving up."""

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""open, high, low, close, volume of the new bars, each ``(bars, symbols)``."""


@dataclass(frozen=True, slots=True)
class StreamEngineState:
    """A :class:`StreamEngine` snapshot.

    Attributes:
        stream: The stream's state.
        pending: OHLCV of bars of failed steps, ``(5, bars, symbols)``.
        abandoned: Non-empty once the engine gave up (the error every step then gets).
    """

    stream: AlphaStreamState | BuiltinStreamState
    pending: np.ndarray
    abandoned: str = ""

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return self.stream.nbytes + self.pending.nbytes


@dataclass(frozen=True, slots=True)
class HistoryEngineState:
    """A :class:`HistoryEngine` snapshot: the whole history.

    Attributes:
        ts: Bar open times.
        bars: OHLCV, ``(5, bars, symbols)``.
        targets: Targets computed so far (NaN where not known).
        known: Whether each bar's target was delivered.
    """

    ts: np.ndarray
    bars: np.ndarray
    targets: np.ndarray
    known: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in (self.ts, self.bars, self.targets, self.known))


EngineState = StreamEngineState | HistoryEngineState


def check_targets(targets: np.ndarray, n: int, k: int) -> np.ndarray:
    """``targets`` as float64 ``(n, k)``, NaN or finite with ``|target| <= 100``.

    Raises:
        ValueError: On a wrong shape or range.
    """
    targets = np.array(targets, dtype=np.float64)
    if targets.shape != (n, k):
        raise ValueError(f"strategy returned targets of shape {targets.shape}, expected "
                         f"{(n, k)}")
    finite = np.isfinite(targets)
    if np.any(np.isinf(targets)) or np.any(np.abs(targets[finite]) > 100.0):
        raise ValueError("targets must be NaN or finite with |target| <= 100")
    return targets


class StreamEngine:
    """Streams an alpha or a built-in.

    Args:
        make: Builds the stream, fresh (None) or from a state.
        k: Number of symbols.
        state: Resume from :meth:`to_state`.
    """

    def __init__(self, make: Callable[[AlphaStreamState | BuiltinStreamState | None],
                                      AlphaStream | BuiltinStream],
                 k: int, state: StreamEngineState | None = None) -> None:
        self._make, self._k = make, k
        self._stream = make(state.stream if state is not None else None)
        self._pending = (np.array(state.pending) if state is not None
                         else np.empty((5, 0, k)))
        self._abandoned = state.abandoned if state is not None else ""

    def to_state(self) -> StreamEngineState:
        """A snapshot (copies)."""
        return StreamEngineState(self._stream.to_state(), self._pending.copy(), self._abandoned)

    def advance(self, ts: np.ndarray, columns: Columns, meta: Sequence[SeriesMeta]
                ) -> tuple[np.ndarray, np.ndarray]:
        """Targets and signal of the pending bars then the new ones.

        Raises:
            Exception: Whatever the strategy raised (the engine is then unchanged but for
                the new bars, now pending).
        """
        del ts, meta
        if self._abandoned:
            raise RuntimeError(self._abandoned)
        bars = np.concatenate((self._pending, np.stack(columns)), axis=1)
        before = self._stream.to_state()
        try:
            n = bars.shape[1]
            if not isinstance(self._stream, BuiltinStream):
                signal, targets = self._stream.step(*bars)
            else:
                targets = self._stream.step(bars[3])
                signal = np.full((n, self._k), np.nan)
            targets = check_targets(targets, n, self._k)
        except Exception:
            self._stream = self._make(before)
            if bars.shape[1] > MAX_PENDING_BARS:
                self._abandoned = (f"gave up after more than {MAX_PENDING_BARS} bars of "
                                   "failed steps")
                self._pending = np.empty((5, 0, self._k))
            else:
                self._pending = bars
            raise
        self._pending = np.empty((5, 0, self._k))
        return targets, np.asarray(signal, dtype=np.float64)


class HistoryEngine:
    """Recomputes a plug-in spec over the whole history at every step (causality-checked).

    Args:
        spec: The strategy.
        params: Its parameters.
        k: Number of symbols.
        state: Resume from :meth:`to_state`.
    """

    def __init__(self, spec: StrategySpec, params: BaseModel, k: int,
                 state: HistoryEngineState | None = None) -> None:
        self._spec, self._params, self._k = spec, params, k
        if state is None:
            state = HistoryEngineState(np.empty(0, np.int64), np.empty((5, 0, k)),
                                       np.empty((0, k)), np.empty(0, bool))
        self._ts, self._bars = np.array(state.ts), np.array(state.bars)
        self._targets, self._known = np.array(state.targets), np.array(state.known)

    def to_state(self) -> HistoryEngineState:
        """A snapshot (copies of the whole history)."""
        return HistoryEngineState(self._ts.copy(), self._bars.copy(), self._targets.copy(),
                                  self._known.copy())

    def advance(self, ts: np.ndarray, columns: Columns, meta: Sequence[SeriesMeta]
                ) -> tuple[np.ndarray, np.ndarray]:
        """Append the bars, recompute, check causality; targets of the bars not known yet.

        Raises:
            Exception: Whatever the strategy raised, or ``ValueError`` if it is not causal.
        """
        n_new = len(ts)
        self._ts = np.concatenate((self._ts, ts))
        self._bars = np.concatenate((self._bars, np.stack(columns)), axis=1)
        self._targets = np.vstack((self._targets, np.full((n_new, self._k), np.nan)))
        self._known = np.concatenate((self._known, np.zeros(n_new, bool)))
        h, n = self._bars, len(self._ts)
        candles = [Candles(self._ts, h[0][:, j], h[1][:, j], h[2][:, j], h[3][:, j],
                           h[4][:, j], meta[j]) for j in range(self._k)]
        targets = check_targets(np.column_stack(self._spec.compute(candles, self._params)),
                                n, self._k)
        known = self._known
        old, new = self._targets[known], targets[known]
        moved = ~((old == new) | (np.isnan(old) & np.isnan(new)))
        if moved.any():
            row, col = (int(x[0]) for x in np.nonzero(moved))
            bar = int(self._ts[known][row])
            raise ValueError(f"not causal: the target of {meta[col].symbol} at bar {bar} "
                             f"changed from {old[row, col]!r} to {new[row, col]!r}")
        fresh = ~known
        self._targets[fresh] = targets[fresh]
        self._known[:] = True
        out = targets[fresh]
        return out, np.full(out.shape, np.nan)


Engine = StreamEngine | HistoryEngine


def alpha_engine(expression: Node, mapping: MappingConfig, k: int,
                 state: StreamEngineState | None = None) -> StreamEngine:
    """A stream engine of an alpha on ``k`` symbols."""
    from core.dsl.stream_alpha import AlphaStream

    return StreamEngine(lambda s: AlphaStream(expression, mapping, k, s), k, state)


def builtin_engine(spec: StrategySpec, params: BaseModel, k: int,
                   state: EngineState | None = None) -> Engine:
    """A stream engine of ``spec`` if it has a streaming twin, else a history engine."""
    if spec.stream is None:
        assert state is None or isinstance(state, HistoryEngineState)
        return HistoryEngine(spec, params, k, state)
    assert state is None or isinstance(state, StreamEngineState)
    make = spec.stream
    return StreamEngine(lambda s: make(params, s), k, state)  # type: ignore[arg-type]
