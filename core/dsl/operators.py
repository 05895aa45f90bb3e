"""The operator registry: every operator's signature, semantics, warm-up and window bounds.

Argument kinds:

* ``series`` — any expression; a numeric literal is promoted to a constant series;
* ``window`` — an integer literal, the lookback in bars (``min_window`` .. :data:`MAX_WINDOW`);
* ``scalar`` — a numeric literal (never an expression), e.g. a clip bound or an exponent.

Every operator returns a series. All operators are causal: the value at bar ``t`` depends on
bars ``<= t`` only. Series are ``(bars, symbols)`` matrices; time-series operators work per
symbol, cross-sectional operators across the symbols of each bar. NaN is explicit warm-up:
a windowed operator is NaN until its window holds ``w`` non-NaN inputs, and NaN inputs
propagate (except that cross-sectional operators skip NaN symbols).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ArgKind(Enum):
    """What an operator argument accepts."""

    SERIES = "series"
    WINDOW = "window"
    SCALAR = "scalar"


class OpFamily(Enum):
    """How an operator reads its inputs."""

    ELEMENTWISE = "elementwise"
    TIME_SERIES = "time_series"
    CROSS_SECTIONAL = "cross_sectional"


MAX_WINDOW = 2000
"""Largest lookback an expression may use, in bars."""

PROTECT_EPS = 1e-12
"""Protected operators treat |x| below this as zero."""

S, W, C = ArgKind.SERIES, ArgKind.WINDOW, ArgKind.SCALAR


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One operator.

    Attributes:
        name: Name in the S-expression text.
        args: Kinds of the positional arguments.
        family: Elementwise, time-series or cross-sectional.
        summary: One-line semantics (also the documentation).
        min_window: Smallest lookback accepted by its window argument.
        warmup_offset: NaN bars the operator adds, given its window ``w``: ``w + offset``
            (e.g. -1 for a rolling mean, 0 for ``delay``/``delta``); unused without a window.
        commutative: Whether the two series arguments may be swapped (canonical ordering).
    """

    name: str
    args: tuple[ArgKind, ...]
    family: OpFamily
    summary: str
    min_window: int = 1
    warmup_offset: int = -1
    commutative: bool = False

    @property
    def arity(self) -> int:
        """Number of arguments."""
        return len(self.args)

    def warmup(self, window: int | None) -> int:
        """NaN bars this operator adds on top of its inputs' warm-up."""
        if window is None:
            return 0
        return max(window + self.warmup_offset, 0)


_E, _T, _X = OpFamily.ELEMENTWISE, OpFamily.TIME_SERIES, OpFamily.CROSS_SECTIONAL

OPERATORS: dict[str, OpSpec] = {spec.name: spec for spec in (
    # arithmetic
    OpSpec("add", (S, S), _E, "a + b", commutative=True),
    OpSpec("sub", (S, S), _E, "a - b"),
    OpSpec("mul", (S, S), _E, "a * b", commutative=True),
    OpSpec("div", (S, S), _E, "a / b; 0 where |b| < 1e-12 (protected)"),
    OpSpec("neg", (S,), _E, "-a"),
    OpSpec("abs", (S,), _E, "|a|"),
    OpSpec("sign", (S,), _E, "-1, 0 or 1"),
    OpSpec("log", (S,), _E, "log|a|; 0 where |a| < 1e-12 (protected)"),
    OpSpec("sqrt", (S,), _E, "sqrt|a| (protected)"),
    OpSpec("pow", (S, C), _E, "sign(a) * |a| ** p, p in [-4, 4]; 0 where a = 0 (p = 2, "
                              "0.5, -1 as |a|*|a|, sqrt|a|, 1/|a|)"),
    OpSpec("clip", (S, C, C), _E, "a limited to [lo, hi] (lo < hi)"),
    OpSpec("max", (S, S), _E, "elementwise maximum", commutative=True),
    OpSpec("min", (S, S), _E, "elementwise minimum", commutative=True),
    OpSpec("if_gt", (S, S, S, S), _E, "x where a > b else y"),
    # time series (per symbol)
    OpSpec("delay", (S, W), _T, "a, w bars ago", warmup_offset=0),
    OpSpec("delta", (S, W), _T, "a - delay(a, w)", warmup_offset=0),
    OpSpec("ts_mean", (S, W), _T, "mean of the last w bars"),
    OpSpec("ts_std", (S, W), _T, "sample standard deviation of the last w bars",
           min_window=2),
    OpSpec("ts_sum", (S, W), _T, "sum of the last w bars"),
    OpSpec("ts_min", (S, W), _T, "minimum of the last w bars"),
    OpSpec("ts_max", (S, W), _T, "maximum of the last w bars"),
    OpSpec("ts_argmax", (S, W), _T, "bars since the maximum of the last w (0 = this bar; "
                                    "ties: the most recent)", min_window=2),
    OpSpec("ts_argmin", (S, W), _T, "bars since the minimum of the last w (0 = this bar; "
                                    "ties: the most recent)", min_window=2),
    OpSpec("ts_rank", (S, W), _T, "rank of a in its last w bars, in [0, 1]: (#less + "
                                  "0.5 #equal others) / (w - 1)", min_window=2),
    OpSpec("ts_zscore", (S, W), _T, "(a - ts_mean) / ts_std over the last w bars; 0 where "
                                    "the std is 0", min_window=2),
    OpSpec("ts_corr", (S, S, W), _T, "Pearson correlation of a and b over the last w bars; "
                                     "0 where either is constant", min_window=2,
           commutative=True),
    OpSpec("ts_cov", (S, S, W), _T, "sample covariance of a and b over the last w bars",
           min_window=2, commutative=True),
    OpSpec("ema", (S, W), _T, "exponential average, alpha = 2 / (w + 1), seeded with the "
                              "mean of the first w values"),
    OpSpec("decay_linear", (S, W), _T, "weighted mean of the last w bars, weights w .. 1 "
                                       "(newest heaviest)"),
    # cross-sectional (per bar, across symbols; NaN symbols are skipped)
    OpSpec("cs_rank", (S,), _X, "rank across symbols in [0, 1] (ties averaged; 0.5 for a "
                                "single symbol)"),
    OpSpec("cs_zscore", (S,), _X, "(a - mean) / std across symbols; 0 where std is 0 or "
                                  "fewer than 2 symbols"),
    OpSpec("cs_demean", (S,), _X, "a - mean across symbols"),
)}


def get_operator(name: str) -> OpSpec:
    """The operator called ``name``.

    Raises:
        KeyError: If no such operator exists.
    """
    return OPERATORS[name]
