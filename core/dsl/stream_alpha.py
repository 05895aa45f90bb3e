"""An alpha as a stream: new OHLCV bars in, the signal and target positions of those bars out.

:class:`AlphaStream` derives the terminals exactly as :meth:`core.dsl.data.AlphaData.from_market`
does (``returns`` from the previous close, carried between steps; ``vwap`` the typical price),
evaluates the expression with a :class:`core.dsl.stream.StreamEvaluator` and maps the signal
with the streaming twins of :func:`core.dsl.positions.map_positions` (threshold hysteresis
state, z-score window sums and their signal tail). Its values equal
``map_positions(evaluate(...))`` over the whole history bit for bit, for any split into steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from configs.alpha import MappingConfig
from core.dsl.nodes import Node
from core.dsl.positions import cs_rank_targets, sign_targets, threshold_from, zscore_from
from core.dsl.stream import StreamEvaluator, StreamState


@dataclass(frozen=True, slots=True)
class AlphaStreamState:
    """What an :class:`AlphaStream` carries between steps.

    Attributes:
        evaluator: The expression's stream state.
        last_close: Previous bar's close per symbol (NaN before the first bar).
        mapping_floats: Threshold: the state per symbol ``(symbols, 1)``; z-score: the window
            sums ``(symbols, 2)``; otherwise ``(symbols, 0)``.
        mapping_ints: Z-score: NaN counts of the window ``(symbols,)``.
        signal_tail: Z-score: the last ``lookback`` signal values ``(<= lookback, symbols)``.
    """

    evaluator: StreamState
    last_close: np.ndarray
    mapping_floats: np.ndarray
    mapping_ints: np.ndarray
    signal_tail: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return self.evaluator.nbytes + sum(a.nbytes for a in (
            self.last_close, self.mapping_floats, self.mapping_ints, self.signal_tail))


class AlphaStream:
    """Signal and targets of an alpha, bar batch by bar batch.

    Args:
        expression: The parsed expression.
        mapping: Signal -> position mapping.
        n_symbols: Number of symbols.
        state: Resume from a :meth:`to_state` snapshot.
    """

    def __init__(self, expression: Node, mapping: MappingConfig, n_symbols: int,
                 state: AlphaStreamState | None = None) -> None:
        self._mapping = mapping
        k = int(n_symbols)
        self._evaluator = StreamEvaluator([expression], k,
                                          state.evaluator if state is not None else None)
        if state is None:
            width = {"threshold": 1, "zscore": 2}.get(mapping.kind, 0)
            initial = np.nan if mapping.kind == "threshold" else 0.0
            state = AlphaStreamState(self._evaluator.to_state(), np.full(k, np.nan),
                                     np.full((k, width), initial), np.zeros(k, np.int64),
                                     np.empty((0, k)))
        self._last_close = state.last_close.copy()
        self._floats = np.array(state.mapping_floats, dtype=np.float64, order="C")
        self._ints = np.array(state.mapping_ints, dtype=np.int64, order="C")
        self._tail = np.array(state.signal_tail, dtype=np.float64)

    @property
    def bars(self) -> int:
        """Bars seen so far."""
        return self._evaluator.bars

    def to_state(self) -> AlphaStreamState:
        """A snapshot (copies) from which a new stream resumes identically."""
        return AlphaStreamState(self._evaluator.to_state(), self._last_close.copy(),
                                self._floats.copy(), self._ints.copy(), self._tail.copy())

    def step(self, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
             volume: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance by new bars, each argument ``(new_bars, symbols)``.

        Returns:
            ``(signal, targets)`` of the new bars, both ``(new_bars, symbols)``.

        Raises:
            DSLError: If the expression reads a series the bars do not have (``funding``);
                the stream is then unchanged.
        """
        close = np.asarray(close, dtype=np.float64)
        previous = np.vstack((self._last_close[None, :], close[:-1]))
        terminals = {"open": open_, "high": high, "low": low, "close": close,
                     "volume": volume, "returns": close / previous - 1.0,
                     "vwap": (high + low + close) / 3.0}
        (signal,) = self._evaluator.step(terminals)
        signal = np.asfortranarray(signal, dtype=np.float64)
        targets = self._map(signal)
        self._last_close = close[-1].copy()
        return np.array(signal), np.asarray(targets, dtype=np.float64)

    def _map(self, signal: np.ndarray) -> np.ndarray:
        mapping = self._mapping
        if mapping.kind == "sign":
            return sign_targets(signal)
        if mapping.kind == "threshold":
            out = np.empty_like(signal)
            state = np.ascontiguousarray(self._floats[:, 0])
            threshold_from(signal, mapping.entry, mapping.exit, state, out)
            self._floats[:, 0] = state
            return out
        if mapping.kind == "zscore":
            lookback = mapping.lookback
            seen = self.bars - signal.shape[0]
            off = min(lookback, seen)
            buffer = np.asfortranarray(np.vstack((self._tail[self._tail.shape[0] - off:],
                                                  signal)))
            out = np.full(signal.shape, np.nan)
            zscore_from(buffer, off, seen, lookback, mapping.z_cap, mapping.step, self._floats,
                        self._ints, out)
            self._tail = np.array(buffer[-lookback:])
            return out
        return cs_rank_targets(signal, mapping.max_weight, mapping.step)
