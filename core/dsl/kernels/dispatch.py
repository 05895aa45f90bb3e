"""The dispatch table: one uniformly callable kernel per operator of the DSL.

Every entry of :data:`KERNELS` is called as ``kernel(inputs, window, scalars, out)``:

* ``inputs`` — the operator's series arguments in order, float64 ``(bars, symbols)``
  matrices, ideally column-major (``order="F"``) so each symbol's history is contiguous; a
  size-1 array stands for a constant and is broadcast;
* ``window`` — the window argument in bars (0 for operators without one);
* ``scalars`` — the scalar arguments in order (``pow``: exponent; ``clip``: lo, hi);
* ``out`` — a float64 matrix of the same shape, written in full; inputs are never modified.

``out`` may be one of the inputs only for operators in :data:`ALIAS_SAFE` (elementwise and
cross-sectional); time-series kernels raise ``ValueError`` if it overlaps an input. The numba
kernels see the transposed views ``(symbols, bars)``, which are C-contiguous for column-major
matrices; each is compiled once, for that layout (read-only inputs accepted), so any number
of symbols and any mix of read-only terminals and scratch buffers share one machine-code
version. Other layouts or dtypes are copied at the boundary, never recompiled.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.dsl.kernels import cross_section as cs
from core.dsl.kernels import elementwise as ew
from core.dsl.kernels import extremes, rank, rolling
from core.dsl.operators import OPERATORS, ArgKind, OpFamily

Kernel = Callable[[tuple[np.ndarray, ...], int, tuple[float, ...], np.ndarray], None]
"""``kernel(inputs, window, scalars, out) -> None``."""


_F64 = np.dtype(np.float64)


def _series(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The symbol-major view of input ``x`` (a size-1 ``x`` is broadcast to ``out``'s shape).

    Anything but a column-major float64 matrix is first copied into one, so every kernel has
    exactly one compiled version.
    """
    if x.shape != out.shape:
        if np.size(x) != 1:
            raise ValueError(f"input shape {np.shape(x)} does not match output {out.shape}")
        x = np.full(out.shape, float(np.asarray(x).reshape(-1)[0]), order="F")
    elif x.dtype != _F64 or not x.flags.f_contiguous:
        x = np.asfortranarray(x, dtype=np.float64)
    return x.T


def _call(fn: Callable[..., None], args: list, out: np.ndarray) -> None:
    """``fn(*args, out)`` through a column-major float64 buffer if ``out`` is not one."""
    if out.dtype == _F64 and out.flags.f_contiguous:
        fn(*args, out.T)
    else:
        buffer = np.empty(out.shape, order="F")
        fn(*args, buffer.T)
        out[...] = buffer


def _counts(name: str) -> tuple[int, int]:
    args = OPERATORS[name].args
    return args.count(ArgKind.SERIES), args.count(ArgKind.SCALAR)


def _elementwise(name: str, fn: Callable[..., None]) -> Kernel:
    n_series, n_scalars = _counts(name)

    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        args = [_series(x, out) for x in inputs[:n_series]]
        _call(fn, [*args, *[float(s) for s in scalars[:n_scalars]]], out)

    return kernel


def _time_series(name: str, fn: Callable[..., None], *flags: bool) -> Kernel:
    n_series, _ = _counts(name)
    min_window = OPERATORS[name].min_window

    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        if window < min_window:
            raise ValueError(f"{name}: window {window} < {min_window}")
        args = []
        for x in inputs[:n_series]:
            if np.may_share_memory(x, out):
                raise ValueError(f"{name}: out must not overlap an input")
            args.append(_series(x, out))
        _call(fn, [*args, int(window), *flags], out)

    return kernel


def _cross_section(fn: Callable[..., None], single: Callable[[np.ndarray], np.ndarray]
                   ) -> Kernel:
    """Cross-sectional kernel; with one symbol the result is ``single(x)`` (a constant)."""
    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        x = inputs[0]
        if x.ndim == 2 and x.shape[1] == 1 and x.shape == out.shape:
            with np.errstate(invalid="ignore"):  # inf - inf is NaN, as in the kernel
                np.copyto(out, single(x))
            return
        _call(fn, [_series(x, out)], out)

    return kernel


_ELEMENTWISE: dict[str, Callable[..., None]] = {
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "neg": ew.neg,
    "abs": ew.abs_, "sign": ew.sign, "log": ew.log, "sqrt": ew.sqrt, "pow": ew.pow_,
    "clip": ew.clip, "max": ew.maximum, "min": ew.minimum, "if_gt": ew.if_gt,
}
_TIME_SERIES: dict[str, tuple] = {  # name -> (kernel, flags...)
    "delay": (rolling.lag, False), "delta": (rolling.lag, True),
    "ts_sum": (rolling.window_sum, False), "ts_mean": (rolling.window_sum, True),
    "ts_std": (rolling.std_zscore, False), "ts_zscore": (rolling.std_zscore, True),
    "ts_min": (extremes.extreme, False, False), "ts_max": (extremes.extreme, True, False),
    "ts_argmin": (extremes.extreme, False, True), "ts_argmax": (extremes.extreme, True, True),
    "ts_rank": (rank.ts_rank,), "ts_corr": (rolling.cov_corr, True),
    "ts_cov": (rolling.cov_corr, False), "ema": (rolling.ema,),
    "decay_linear": (rolling.decay_linear,),
}
# One symbol: the rank is 0.5, the z-score 0 and the deviation x - x (NaN for NaN/inf).
_CROSS_SECTION: dict[str, tuple[Callable[..., None], Callable[[np.ndarray], np.ndarray]]] = {
    "cs_rank": (cs.cs_rank, lambda x: np.where(np.isnan(x), np.nan, 0.5)),
    "cs_zscore": (cs.cs_zscore, lambda x: np.where(np.isnan(x), np.nan, 0.0)),
    "cs_demean": (cs.cs_demean, lambda x: x - x),
}

KERNELS: dict[str, Kernel] = {
    **{name: _elementwise(name, fn) for name, fn in _ELEMENTWISE.items()},
    **{name: _time_series(name, fn, *flags) for name, (fn, *flags) in _TIME_SERIES.items()},
    **{name: _cross_section(fn, single) for name, (fn, single) in _CROSS_SECTION.items()},
}
"""Kernel of every operator in :data:`core.dsl.operators.OPERATORS`, by name."""

ALIAS_SAFE: frozenset[str] = frozenset(
    name for name, spec in OPERATORS.items() if spec.family is not OpFamily.TIME_SERIES)
"""Operators whose ``out`` may be the same buffer as one of their inputs."""


TrustedKernel = Callable[[tuple[np.ndarray, ...], int, tuple[float, ...], np.ndarray], None]
"""``kernel(inputs_t, window, scalars, out_t)`` on symbol-major views, without any check."""


def _trusted_elementwise(name: str, fn: Callable[..., None]) -> TrustedKernel:
    n_series, n_scalars = _counts(name)

    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        fn(*inputs[:n_series], *scalars[:n_scalars], out)

    return kernel


def _trusted_time_series(name: str, fn: Callable[..., None], *flags: bool) -> TrustedKernel:
    n_series, _ = _counts(name)

    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        fn(*inputs[:n_series], window, *flags, out)

    return kernel


def _trusted_cross_section(fn: Callable[..., None], single: Callable[[np.ndarray], np.ndarray]
                           ) -> TrustedKernel:
    def kernel(inputs: tuple[np.ndarray, ...], window: int, scalars: tuple[float, ...],
               out: np.ndarray) -> None:
        if inputs[0].shape[0] == 1:
            with np.errstate(invalid="ignore"):
                np.copyto(out, single(inputs[0]))
        else:
            fn(inputs[0], out)

    return kernel


TRUSTED_KERNELS: dict[str, TrustedKernel] = {
    **{name: _trusted_elementwise(name, fn) for name, fn in _ELEMENTWISE.items()},
    **{name: _trusted_time_series(name, fn, *flags)
       for name, (fn, *flags) in _TIME_SERIES.items()},
    **{name: _trusted_cross_section(fn, single) for name, (fn, single) in _CROSS_SECTION.items()},
}
"""Unchecked entry points for the evaluator, which guarantees the contract itself: inputs and
outputs are distinct C-contiguous float64 ``(symbols, bars)`` views of equal shape and windows
are within the operator's bounds. Same results as :data:`KERNELS`."""
