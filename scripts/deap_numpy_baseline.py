"""The alpha DSL as a DEAP primitive set over numpy/pandas: the baseline of ``bench_dsl.py``.

A single-symbol re-implementation of the 32 operators of :mod:`core.dsl.operators` in the way
a numpy user would write them for DEAP: every primitive takes and returns 1-D float64 numpy
arrays (one symbol, so the data is one column), vectorised with numpy, and with pandas where a
numpy user would reach for it (``rolling().mean/std/sum/min/max/corr/cov/rank`` and ``ewm``).
The semantics follow each operator's :attr:`~core.dsl.operators.OpSpec.summary`:

* protected ``div`` / ``log`` (0 where ``|x| < 1e-12``), ``sqrt|a|``, signed ``pow``;
* windowed operators are NaN until their window is full and wherever the window holds a NaN
  (``ts_corr`` / ``ts_cov`` / ``ts_std``: a non-finite value);
* ``ts_argmax`` / ``ts_argmin`` give the bars since the extreme, ties to the most recent bar;
  ``ts_rank`` is ``(#less + 0.5 #equal others) / (w - 1)``; ``ts_zscore`` and ``ts_corr`` are
  0 where a window is constant; ``ema`` is seeded with the mean of its first ``w`` values and
  restarts after a NaN; ``decay_linear`` weighs the newest bar ``w`` .. the oldest 1;
* cross-sectional operators on a single symbol: ``cs_rank`` 0.5, ``cs_zscore`` 0,
  ``cs_demean`` ``a - a`` (so NaN, and NaN for infinities too), each NaN where the input is.

Types of the primitive set (:class:`deap.gp.PrimitiveSetTyped`): series = ``numpy.ndarray``,
window = ``int``, scalar = ``float``. DEAP's generators need a *primitive* returning every
argument type, so the set also has the identity helpers ``win`` (int -> int) and ``num``
(float -> float) and ``const`` (float -> series, a constant series); windows and scalars are
ephemeral constants built with :func:`functools.partial` (picklable, unlike lambdas).

Primitives run without numpy's floating-point warnings: call compiled trees inside
``numpy.errstate(all="ignore")`` (as :meth:`DeapNumpy.run` does).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from deap import gp
from numpy.lib.stride_tricks import sliding_window_view

from core.dsl.generate import DEFAULT_TERMINALS, DEFAULT_WINDOWS
from core.dsl.nodes import Call, Const, Node, Terminal, Window
from core.dsl.operators import OPERATORS, PROTECT_EPS, ArgKind

SERIES = np.ndarray
WINDOW = int
SCALAR = float

RANK_DIRECT_MAX_WINDOW = 100
"""``ts_rank`` counts a sliding-window view up to this window (faster there), else pandas."""

EXTREME_CHUNK_ROWS = 2048
"""Rows of the sliding-window view per ``argmax`` / ``argmin`` call in ``ts_argmax/argmin``."""

WINDOW_EPHEMERAL = "rand_window"
SCALAR_EPHEMERAL = "rand_scalar"


def _rounded_uniform(lo: float, hi: float) -> float:
    """A uniform draw in ``[lo, hi)`` rounded to 2 decimals (like the DSL's generator)."""
    return round(random.uniform(lo, hi), 2)


# Module-level partials: picklable, and one function object per ephemeral name.
_RANDOM_WINDOW = functools.partial(random.choice, DEFAULT_WINDOWS)
_RANDOM_SCALAR = functools.partial(_rounded_uniform, -2.0, 2.0)


# --- helpers -----------------------------------------------------------------------------

def _window_has(mask: np.ndarray, w: int) -> np.ndarray:
    """True at bar ``t`` if ``mask`` is True anywhere in bars ``t-w+1 .. t``, or ``t < w-1``."""
    n = mask.shape[0]
    out = np.ones(n, dtype=bool)
    if w <= n:
        counts = np.cumsum(mask, dtype=np.int64)
        hits = counts[w - 1:].copy()
        hits[1:] -= counts[: n - w]
        out[w - 1:] = hits > 0
    return out


def _masked(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``values`` with NaN where ``bad`` (pandas results are read-only, so a new array)."""
    return np.where(bad, np.nan, values)


def _rolling(a: np.ndarray, w: int) -> pd.api.typing.Rolling:
    return pd.Series(a, copy=False).rolling(w)


# --- elementwise ---------------------------------------------------------------------------

def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b``."""
    return a + b


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b``."""
    return a - b


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * b``."""
    return a * b


def div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Protected ``a / b``: 0 where ``|b| < 1e-12`` (NaN if ``a`` is NaN)."""
    return np.where((np.abs(b) < PROTECT_EPS) & ~np.isnan(a), 0.0, a / b)


def neg(a: np.ndarray) -> np.ndarray:
    """``-a``."""
    return -a


def abs_(a: np.ndarray) -> np.ndarray:
    """``|a|``."""
    return np.abs(a)


def sign(a: np.ndarray) -> np.ndarray:
    """-1, 0 or 1 (NaN stays NaN)."""
    return np.sign(a)


def log(a: np.ndarray) -> np.ndarray:
    """Protected ``log|a|``: 0 where ``|a| < 1e-12``."""
    x = np.abs(a)
    return np.where(x < PROTECT_EPS, 0.0, np.log(x))


def sqrt(a: np.ndarray) -> np.ndarray:
    """``sqrt|a|``."""
    return np.sqrt(np.abs(a))


def pow_(a: np.ndarray, p: float) -> np.ndarray:
    """Signed power ``sign(a) * |a| ** p``; 0 where ``a == 0``."""
    return np.where(a == 0.0, 0.0, np.copysign(np.abs(a) ** p, a))


def clip(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``a`` limited to ``[lo, hi]``."""
    return np.clip(a, lo, hi)


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise maximum (NaN if either is NaN)."""
    return np.maximum(a, b)


def minimum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise minimum (NaN if either is NaN)."""
    return np.minimum(a, b)


def if_gt(a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x`` where ``a > b`` else ``y``; NaN where ``a`` or ``b`` is NaN."""
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a > b, x, y))


# --- time series ---------------------------------------------------------------------------

def delay(a: np.ndarray, w: int) -> np.ndarray:
    """``a`` from ``w`` bars ago (NaN for the first ``w`` bars)."""
    out = np.empty_like(a)
    out[:w] = np.nan
    out[w:] = a[: max(a.shape[0] - w, 0)]
    return out


def delta(a: np.ndarray, w: int) -> np.ndarray:
    """``a - delay(a, w)``."""
    return a - delay(a, w)


def ts_sum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum of the last ``w`` bars."""
    return _rolling(a, w).sum().to_numpy()


def ts_mean(a: np.ndarray, w: int) -> np.ndarray:
    """Mean of the last ``w`` bars."""
    return _rolling(a, w).mean().to_numpy()


def ts_std(a: np.ndarray, w: int) -> np.ndarray:
    """Sample standard deviation of the last ``w`` bars (NaN where one is not finite)."""
    return _masked(_rolling(a, w).std().to_numpy(), _window_has(~np.isfinite(a), w))


def ts_min(a: np.ndarray, w: int) -> np.ndarray:
    """Minimum of the last ``w`` bars."""
    return _rolling(a, w).min().to_numpy()


def ts_max(a: np.ndarray, w: int) -> np.ndarray:
    """Maximum of the last ``w`` bars."""
    return _rolling(a, w).max().to_numpy()


def _bars_since_extreme(a: np.ndarray, w: int, arg: Callable[..., np.ndarray]) -> np.ndarray:
    """Bars since the window's extreme, ties to the most recent bar.

    The windows of the reversed series run newest -> oldest, so ``argmax`` / ``argmin``
    (first occurrence) is the most recent extreme and its index is the bars since it.
    ``argmax`` along the rows of a sliding-window view copies the rows it reads into a
    contiguous block, so the rows go in chunks of :data:`EXTREME_CHUNK_ROWS` (the copy stays
    in cache: 2.5x faster than one call at w = 200).
    """
    n = a.shape[0]
    out = np.full(n, np.nan)
    if w <= n:
        newest_first = sliding_window_view(np.ascontiguousarray(a[::-1]), w)
        since = np.empty(newest_first.shape[0], dtype=np.int64)
        for start in range(0, since.shape[0], EXTREME_CHUNK_ROWS):
            rows = slice(start, start + EXTREME_CHUNK_ROWS)
            since[rows] = arg(newest_first[rows], axis=1)
        out[w - 1:] = since[::-1]
    return _masked(out, _window_has(np.isnan(a), w))


def ts_argmax(a: np.ndarray, w: int) -> np.ndarray:
    """Bars since the maximum of the last ``w`` (0 = this bar; ties: the most recent)."""
    return _bars_since_extreme(a, w, np.argmax)


def ts_argmin(a: np.ndarray, w: int) -> np.ndarray:
    """Bars since the minimum of the last ``w`` (0 = this bar; ties: the most recent)."""
    return _bars_since_extreme(a, w, np.argmin)


def ts_rank(a: np.ndarray, w: int) -> np.ndarray:
    """Rank of ``a`` in its last ``w`` bars in [0, 1]: ``(#less + 0.5 #equal others) / (w - 1)``.

    Short windows count a sliding-window view; longer ones use pandas' rolling rank (average
    ranks ``r`` in 1..w, so the value is ``(r - 1) / (w - 1)``).
    """
    n = a.shape[0]
    if w <= RANK_DIRECT_MAX_WINDOW:
        out = np.full(n, np.nan)
        if w <= n:
            windows = sliding_window_view(a, w)
            current = a[w - 1:, None]
            less = np.count_nonzero(windows < current, axis=1)
            upto = np.count_nonzero(windows <= current, axis=1)
            out[w - 1:] = (less + 0.5 * (upto - less - 1)) / (w - 1)
    else:
        out = (_rolling(a, w).rank().to_numpy() - 1.0) / (w - 1)
    return _masked(out, _window_has(np.isnan(a), w))


def ts_zscore(a: np.ndarray, w: int) -> np.ndarray:
    """``(a - ts_mean) / ts_std`` over the last ``w`` bars; 0 where the std is 0."""
    rolling = _rolling(a, w)
    std = _masked(rolling.std().to_numpy(), _window_has(~np.isfinite(a), w))
    z = (a - rolling.mean().to_numpy()) / std
    return np.where(std == 0.0, 0.0, z)


def ts_corr(a: np.ndarray, b: np.ndarray, w: int) -> np.ndarray:
    """Pearson correlation over the last ``w`` bars; 0 where either is constant."""
    corr = _rolling(a, w).corr(pd.Series(b, copy=False)).to_numpy()
    corr = np.where(np.isfinite(corr), np.clip(corr, -1.0, 1.0), 0.0)  # constant: 0 / 0
    return _masked(corr, _window_has(~(np.isfinite(a) & np.isfinite(b)), w))


def ts_cov(a: np.ndarray, b: np.ndarray, w: int) -> np.ndarray:
    """Sample covariance over the last ``w`` bars."""
    cov = _rolling(a, w).cov(pd.Series(b, copy=False)).to_numpy()
    return _masked(cov, _window_has(~(np.isfinite(a) & np.isfinite(b)), w))


def ema(a: np.ndarray, w: int) -> np.ndarray:
    """EMA with ``alpha = 2 / (w + 1)`` seeded by the mean of the first ``w`` values.

    Runs per stretch of non-NaN values (a NaN restarts it: NaN until ``w`` values again).
    """
    n = a.shape[0]
    out = np.full(n, np.nan)
    edges = np.diff(np.concatenate(([0], (~np.isnan(a)).view(np.int8), [0])))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1),
                           strict=True):
        if stop - start < w:
            continue
        seeded = a[start + w - 1:stop].copy()
        seeded[0] = a[start:start + w].mean()
        out[start + w - 1:stop] = (pd.Series(seeded, copy=False)
                                   .ewm(alpha=2.0 / (w + 1.0), adjust=False).mean().to_numpy())
    return out


def decay_linear(a: np.ndarray, w: int) -> np.ndarray:
    """Weighted mean of the last ``w`` bars, weights ``w .. 1`` (newest heaviest)."""
    out = np.full(a.shape[0], np.nan)
    if w <= a.shape[0]:
        # np.convolve flips the kernel: weight[0] = w multiplies the newest bar.
        weights = np.arange(w, 0, -1, dtype=np.float64) / (w * (w + 1) / 2.0)
        out[w - 1:] = np.convolve(a, weights, mode="valid")
    return out


# --- cross-sectional (a single symbol) -------------------------------------------------------

def cs_rank(a: np.ndarray) -> np.ndarray:
    """Rank across symbols: 0.5 for one symbol (NaN where ``a`` is NaN)."""
    return np.where(np.isnan(a), np.nan, 0.5)


def cs_zscore(a: np.ndarray) -> np.ndarray:
    """Z-score across symbols: 0 for one symbol (NaN where ``a`` is NaN)."""
    return np.where(np.isnan(a), np.nan, 0.0)


def cs_demean(a: np.ndarray) -> np.ndarray:
    """``a`` minus the mean across symbols: ``a - a`` for one symbol."""
    return a - a


# --- helper primitives for DEAP's typed generation -------------------------------------------

def win(w: int) -> int:
    """Identity on windows (DEAP needs a primitive returning each argument type)."""
    return w


def num(c: float) -> float:
    """Identity on scalars (DEAP needs a primitive returning each argument type)."""
    return c


def _constant(n_bars: int, value: float) -> np.ndarray:
    return np.full(n_bars, value)


PRIMITIVES: dict[str, Callable[..., np.ndarray]] = {
    "add": add, "sub": sub, "mul": mul, "div": div, "neg": neg, "abs": abs_, "sign": sign,
    "log": log, "sqrt": sqrt, "pow": pow_, "clip": clip, "max": maximum, "min": minimum,
    "if_gt": if_gt, "delay": delay, "delta": delta, "ts_mean": ts_mean, "ts_std": ts_std,
    "ts_sum": ts_sum, "ts_min": ts_min, "ts_max": ts_max, "ts_argmax": ts_argmax,
    "ts_argmin": ts_argmin, "ts_rank": ts_rank, "ts_zscore": ts_zscore, "ts_corr": ts_corr,
    "ts_cov": ts_cov, "ema": ema, "decay_linear": decay_linear, "cs_rank": cs_rank,
    "cs_zscore": cs_zscore, "cs_demean": cs_demean,
}
"""numpy implementation of every DSL operator, by operator name."""

_KIND_TYPES = {ArgKind.SERIES: SERIES, ArgKind.WINDOW: WINDOW, ArgKind.SCALAR: SCALAR}


def build_pset(n_bars: int, terminals: Sequence[str] = DEFAULT_TERMINALS
               ) -> gp.PrimitiveSetTyped:
    """A typed DEAP primitive set with the DSL's 32 operators over numpy arrays.

    Args:
        n_bars: Length of the series (``const`` broadcasts a scalar to it).
        terminals: Names of the series arguments of the compiled functions, in order.

    Returns:
        The primitive set: arguments named after ``terminals``, one primitive per operator
        (named like the operator), helpers ``const``, ``win`` and ``num``, and the ephemeral
        constants ``rand_window`` (int) and ``rand_scalar`` (float).

    Raises:
        KeyError: If :data:`PRIMITIVES` misses an operator of the registry.
    """
    pset = gp.PrimitiveSetTyped("MAIN", [SERIES] * len(terminals), SERIES)
    pset.renameArguments(**{f"ARG{i}": name for i, name in enumerate(terminals)})
    for name, spec in OPERATORS.items():
        pset.addPrimitive(PRIMITIVES[name], [_KIND_TYPES[kind] for kind in spec.args], SERIES,
                          name=name)
    pset.addPrimitive(functools.partial(_constant, n_bars), [SCALAR], SERIES, name="const")
    pset.addPrimitive(win, [WINDOW], WINDOW, name="win")
    pset.addPrimitive(num, [SCALAR], SCALAR, name="num")
    pset.addEphemeralConstant(WINDOW_EPHEMERAL, _RANDOM_WINDOW, WINDOW)
    pset.addEphemeralConstant(SCALAR_EPHEMERAL, _RANDOM_SCALAR, SCALAR)
    return pset


def to_deap(node: Node, pset: gp.PrimitiveSetTyped) -> gp.PrimitiveTree:
    """The DEAP tree of a (type-checked) DSL expression.

    Operators map to the primitives of the same name, terminals to the set's arguments,
    windows and scalar arguments to ephemeral constants holding the value, and a constant
    used as a series to ``const(value)``.

    Args:
        node: The expression.
        pset: A set from :func:`build_pset`.

    Returns:
        The tree in DEAP's prefix (pre-order) list form.

    Raises:
        TypeError: On a node that is not an expression node.
    """
    nodes: list[gp.Primitive | gp.Terminal] = []

    def ephemeral(name: str, value: float) -> gp.Terminal:
        term = pset.mapping[name]()
        term.value = value
        return term

    def visit(item: Node, kind: ArgKind) -> None:
        if isinstance(item, Call):
            nodes.append(pset.mapping[item.op])
            for arg_kind, arg in zip(OPERATORS[item.op].args, item.args, strict=True):
                visit(arg, arg_kind)
        elif isinstance(item, Terminal):
            nodes.append(pset.mapping[item.name])
        elif isinstance(item, Window):
            nodes.append(ephemeral(WINDOW_EPHEMERAL, int(item.bars)))
        elif isinstance(item, Const):
            if kind is ArgKind.SERIES:
                nodes.append(pset.mapping["const"])
            nodes.append(ephemeral(SCALAR_EPHEMERAL, float(item.value)))
        else:
            raise TypeError(f"not a DSL node: {item!r}")

    visit(node, ArgKind.SERIES)
    return gp.PrimitiveTree(nodes)


class DeapNumpy:
    """DEAP's ``gp.compile`` plus a call on the data: the baseline evaluator.

    Attributes:
        pset: The primitive set.
        arrays: The terminal series, in argument order (1-D float64).
    """

    def __init__(self, columns: dict[str, np.ndarray],
                 terminals: Sequence[str] = DEFAULT_TERMINALS) -> None:
        """Build the set for ``columns`` (terminal name -> 1-D series of equal length)."""
        self.arrays = tuple(np.ascontiguousarray(columns[name], dtype=np.float64)
                            for name in terminals)
        self.pset = build_pset(self.arrays[0].shape[0], terminals)

    def convert(self, node: Node) -> gp.PrimitiveTree:
        """``node`` as a DEAP tree of this set."""
        return to_deap(node, self.pset)

    def compile(self, tree: gp.PrimitiveTree) -> Callable[..., np.ndarray]:
        """``gp.compile(tree, pset)``: a function of the terminal series."""
        return gp.compile(tree, self.pset)

    def run(self, tree: gp.PrimitiveTree) -> np.ndarray:
        """Compile ``tree`` with ``gp.compile`` and evaluate it on the data."""
        with np.errstate(all="ignore"):
            return gp.compile(tree, self.pset)(*self.arrays)

    def run_all(self, trees: Sequence[gp.PrimitiveTree],
                on_value: Callable[[int, np.ndarray], None] | None = None) -> None:
        """Compile and evaluate every tree in turn (warnings off once for the whole batch).

        Args:
            trees: DEAP trees of this set.
            on_value: Called as ``on_value(index, values)`` after each tree, if given.
        """
        pset, arrays = self.pset, self.arrays
        with np.errstate(all="ignore"):
            for index, tree in enumerate(trees):
                values = gp.compile(tree, pset)(*arrays)
                if on_value is not None:
                    on_value(index, values)
