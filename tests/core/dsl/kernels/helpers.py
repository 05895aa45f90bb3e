"""Test data and helpers for the kernel tests."""

from __future__ import annotations

import numpy as np

from core.dsl.kernels import KERNELS
from core.dsl.operators import OPERATORS, ArgKind


def n_series(name: str) -> int:
    return OPERATORS[name].args.count(ArgKind.SERIES)


def run(name: str, inputs, window: int = 0, scalars=()) -> np.ndarray:
    """Evaluate operator ``name`` through the dispatch table into a fresh F-order matrix."""
    out = np.full(inputs[0].shape, -12345.0, order="F")
    KERNELS[name](tuple(inputs), window, tuple(scalars), out)
    return out


def series(rng: np.random.Generator, n: int, s: int, *, kind: str = "normal",
           warmup: int = 0, holes: int = 0) -> np.ndarray:
    """A random ``(n, s)`` F-order series.

    kind: ``normal`` noise, ``walk`` (random walk), ``ties`` (small integers) or ``flat``
    (normal noise with long stretches of repeated values). Each symbol gets a random NaN
    warm-up prefix of up to ``warmup`` bars and ``holes`` isolated NaNs anywhere.
    """
    if kind == "normal":
        x = rng.normal(size=(n, s)) * rng.uniform(0.5, 3.0)
    elif kind == "walk":
        x = rng.normal(size=(n, s)).cumsum(axis=0) + rng.uniform(-50, 50)
    elif kind == "ties":
        x = rng.integers(-3, 4, size=(n, s)).astype(float)
    elif kind == "flat":
        x = rng.normal(size=(n, s))
        for j in range(s):
            for _ in range(max(1, n // 40)):
                start = rng.integers(0, n)
                x[start: start + rng.integers(2, 40), j] = rng.choice([0.0, 1.5, x[start, j]])
    else:
        raise ValueError(kind)
    for j in range(s):
        if warmup:
            x[: rng.integers(0, warmup + 1), j] = np.nan
        for _ in range(holes):
            x[rng.integers(0, n), j] = np.nan
    return np.asfortranarray(x)


def assert_close(got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-9,
                 atol: float = 1e-9) -> None:
    """Same NaN positions, equal infinities, and |got - want| <= atol + rtol * |want|."""
    assert got.shape == want.shape
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_got, nan_want), (
        f"NaN mismatch at {np.argwhere(nan_got != nan_want)[:5].tolist()}")
    ok = ~nan_want
    g, w = got[ok], want[ok]
    inf = ~np.isfinite(w)
    assert np.array_equal(g[inf], w[inf])
    err = np.abs(g[~inf] - w[~inf])
    bound = atol + rtol * np.abs(w[~inf])
    if err.size:
        worst = int(np.argmax(err - bound))
        assert (err <= bound).all(), (
            f"{int((err > bound).sum())} values off; worst got {g[~inf][worst]!r} "
            f"want {w[~inf][worst]!r}")


def assert_bits_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-identical float matrices (NaN included)."""
    assert a.shape == b.shape
    same = np.ascontiguousarray(a).view(np.uint64) == np.ascontiguousarray(b).view(np.uint64)
    assert same.all(), f"differ at {np.argwhere(~same)[:5].tolist()}"
