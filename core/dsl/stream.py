"""Streaming evaluation of expressions: new bars in, their values out, at a constant cost.

A :class:`StreamEvaluator` runs the same plan (:func:`core.dsl.plan.compile_plan`) and the
same kernels as the batch evaluator, step by step, keeping only what the expression's windows
need: for every slot a tail of its last values (as long as the largest window reading it) and,
for every operator with loop state (running sums, moments, EMA, linear decay), that state per
symbol. Memory and cost per step depend on the windows, never on the history's length.

Exactness. Operators whose value is a function of the window's contents (elementwise,
cross-sectional, ``delay``/``delta``, rolling extremes, ``ts_rank``) are recomputed on the
tail plus the new bars with the batch kernel. Operators with loop state use the resumable
kernels of :mod:`core.dsl.kernels.rolling`, of which the batch kernels are the special case
"started from the zero state". Either way the values equal :func:`core.dsl.evaluate.evaluate`
over the whole history bit for bit, for any split of the history into steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.dsl.kernels import rolling
from core.dsl.kernels.dispatch import TRUSTED_KERNELS
from core.dsl.nodes import Node
from core.dsl.operators import OPERATORS, OpFamily
from core.dsl.plan import Plan, compile_plan
from core.errors import DSLError

# name -> (resumable kernel, flags, (floats, ints) of state per symbol)
_RESUMABLE: dict[str, tuple[Callable[..., None], tuple[bool, ...], tuple[int, int]]] = {
    "ts_sum": (rolling.window_sum_from, (False,), rolling.SUM_STATE),
    "ts_mean": (rolling.window_sum_from, (True,), rolling.SUM_STATE),
    "ts_std": (rolling.std_zscore_from, (False,), rolling.STD_STATE),
    "ts_zscore": (rolling.std_zscore_from, (True,), rolling.STD_STATE),
    "ts_cov": (rolling.cov_corr_from, (False,), rolling.COV_STATE),
    "ts_corr": (rolling.cov_corr_from, (True,), rolling.COV_STATE),
    "ema": (rolling.ema_from, (), rolling.EMA_STATE),
    "decay_linear": (rolling.decay_linear_from, (), rolling.DECAY_STATE),
}
_LAGS = frozenset({"delay", "delta"})


@dataclass(frozen=True, slots=True)
class StreamState:
    """Everything a :class:`StreamEvaluator` carries between steps (plain arrays and ints).

    Attributes:
        bars: Bars seen so far.
        tails: Per plan slot, its last values ``(symbols, <= need)`` (empty if no window).
        floats: Per plan step, the float loop state ``(symbols, m)`` (``m`` may be 0).
        ints: Per plan step, the integer loop state ``(symbols, m)``.
    """

    bars: int
    tails: tuple[np.ndarray, ...]
    floats: tuple[np.ndarray, ...]
    ints: tuple[np.ndarray, ...]

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for group in (self.tails, self.floats, self.ints) for a in group)


def _tail_need(op: str, window: int) -> int:
    """Past bars of its inputs that a step of ``op`` reads."""
    if op in _RESUMABLE or op in _LAGS:
        return window
    if OPERATORS[op].family is OpFamily.TIME_SERIES:
        return window - 1
    return 0


class StreamEvaluator:
    """Evaluates expressions incrementally, equal to the batch evaluation bit for bit.

    Args:
        expressions: Type-checked expressions (macros expanded).
        n_symbols: Number of symbols (columns) of every step.
        state: Resume from this :meth:`to_state` snapshot (of the same expressions).
    """

    def __init__(self, expressions: Sequence[Node], n_symbols: int,
                 state: StreamState | None = None) -> None:
        self._plan: Plan = compile_plan(expressions)
        self._k = int(n_symbols)
        plan, k = self._plan, self._k
        need = [0] * plan.n_slots
        for step in plan.steps:
            for slot in step.inputs:
                need[slot] = max(need[slot], _tail_need(step.op, step.window))
        self._need = tuple(need)
        if state is None:
            shapes = [_RESUMABLE[s.op][2] if s.op in _RESUMABLE else (0, 0) for s in plan.steps]
            state = StreamState(
                0, tuple(np.empty((k, 0)) for _ in range(plan.n_slots)),
                tuple(np.zeros((k, f)) for f, _ in shapes),
                tuple(np.zeros((k, i), np.int64) for _, i in shapes))
        elif len(state.tails) != plan.n_slots or len(state.floats) != len(plan.steps):
            raise ValueError("stream state does not match the expressions")
        self._bars = state.bars
        self._tails = [np.array(t, dtype=np.float64, order="C") for t in state.tails]
        self._floats = [np.array(f, dtype=np.float64, order="C") for f in state.floats]
        self._ints = [np.array(i, dtype=np.int64, order="C") for i in state.ints]

    @property
    def terminals(self) -> tuple[str, ...]:
        """Terminal series the expressions read."""
        return self._plan.terminals

    @property
    def bars(self) -> int:
        """Bars seen so far."""
        return self._bars

    def to_state(self) -> StreamState:
        """A snapshot (copies) from which a new evaluator resumes identically."""
        return StreamState(self._bars, tuple(t.copy() for t in self._tails),
                           tuple(f.copy() for f in self._floats),
                           tuple(i.copy() for i in self._ints))

    def step(self, terminals: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Advance by the new bars of the terminals; return each expression's new values.

        Args:
            terminals: Terminal name -> ``(new_bars, symbols)`` float64 matrix.

        Returns:
            One ``(new_bars, symbols)`` matrix per expression, in order.

        Raises:
            DSLError: If an expression reads a terminal missing from ``terminals``; the
                evaluator is then unchanged.
        """
        plan, k = self._plan, self._k
        values: list[np.ndarray | None] = [None] * plan.n_slots
        n = -1
        for index, name in enumerate(plan.terminals):
            if name not in terminals:
                have = ", ".join(sorted(terminals))
                raise DSLError(f"terminal {name!r} is not available in this data "
                               f"(have: {have})")
            array = np.asarray(terminals[name], dtype=np.float64)
            if array.ndim != 2 or array.shape[1] != k or (n >= 0 and array.shape[0] != n):
                raise ValueError(f"terminal {name!r} has shape {array.shape}, expected "
                                 f"(bars, {k}) like the others")
            n = array.shape[0]
            values[index] = np.ascontiguousarray(array.T)
        if n < 0:
            n = next(iter(np.shape(v)[0] for v in terminals.values()), 0)
        base = len(plan.terminals)
        for index, constant in enumerate(plan.constants):
            values[base + index] = np.full((k, n), constant)
        t0 = self._bars
        floats = [f.copy() for f in self._floats]  # committed only once every step is done
        ints = [i.copy() for i in self._ints]
        for index, step in enumerate(plan.steps):
            out = np.empty((k, n))
            inputs = [values[s] for s in step.inputs]
            if step.op in _RESUMABLE:
                fn, flags, _ = _RESUMABLE[step.op]
                off = min(step.window, t0)
                buffers = [self._buffer(s, off, x) for s, x in zip(step.inputs, inputs,
                                                                   strict=True)]
                fn(*buffers, off, t0, step.window, *flags, floats[index], ints[index], out)
            elif (need := _tail_need(step.op, step.window)) > 0:
                off = min(need, t0)
                buffers = [self._buffer(s, off, x) for s, x in zip(step.inputs, inputs,
                                                                   strict=True)]
                full = np.empty((k, off + n))
                TRUSTED_KERNELS[step.op](tuple(buffers), step.window, step.scalars, full)
                out[:] = full[:, off:]
            else:
                TRUSTED_KERNELS[step.op](tuple(inputs), step.window, step.scalars, out)
            values[step.out] = out
        for slot, need in enumerate(self._need):
            if need > 0:
                joined = np.concatenate((self._tails[slot], values[slot]), axis=1)
                self._tails[slot] = np.ascontiguousarray(joined[:, -need:])
        self._floats, self._ints = floats, ints
        self._bars = t0 + n
        return [values[root].T for root in plan.roots]  # type: ignore[union-attr]

    def _buffer(self, slot: int, off: int, new: np.ndarray) -> np.ndarray:
        """The last ``off`` values of ``slot`` followed by its new values, C-contiguous."""
        if off == 0:
            return new
        tail = self._tails[slot]
        return np.ascontiguousarray(np.concatenate((tail[:, tail.shape[1] - off:], new),
                                                   axis=1))
