"""Scalar semantics of the elementwise operators: the single definition of what they compute.

Constant folding uses these functions, and the numba kernels must agree with them on every
input (a test checks it), so a folded constant equals what evaluation would have produced.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from core.dsl.operators import PROTECT_EPS


def _div(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return 0.0 if abs(b) < PROTECT_EPS else a / b


def _log(a: float) -> float:
    if math.isnan(a):
        return math.nan
    return 0.0 if abs(a) < PROTECT_EPS else math.log(abs(a))


def _sign(a: float) -> float:
    if math.isnan(a):
        return math.nan
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)


def _pow(a: float, p: float) -> float:
    if math.isnan(a):
        return math.nan
    if a == 0.0:
        return 0.0
    magnitude = abs(a)
    if p == 2.0:
        return math.copysign(magnitude * magnitude, a)
    if p == 0.5:
        return math.copysign(math.sqrt(magnitude), a)
    if p == -1.0:
        return math.copysign(1.0 / magnitude, a)
    try:
        return math.copysign(magnitude**p, a)
    except OverflowError:  # the kernel gives +-inf; folding then keeps the call
        return math.copysign(math.inf, a)


def _clip(a: float, lo: float, hi: float) -> float:
    if math.isnan(a):
        return math.nan
    return min(max(a, lo), hi)


def _max(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _min(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def _if_gt(a: float, b: float, x: float, y: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    return x if a > b else y


SCALAR_OPS: dict[str, Callable[..., float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": _div,
    "neg": lambda a: -a,
    "abs": abs,
    "sign": _sign,
    "log": _log,
    "sqrt": lambda a: math.sqrt(abs(a)) if not math.isnan(a) else math.nan,
    "pow": _pow,
    "clip": _clip,
    "max": _max,
    "min": _min,
    "if_gt": _if_gt,
}
"""Scalar implementation of every elementwise operator, keyed by operator name."""
