"""Look-ahead and recursive-bias detector for any signal or alpha function.

``signal_fn(start, stop)`` must compute the signal from input bars ``[start, stop)`` only and
return ``stop - start`` rows (1-D, or 2-D bars x symbols). Two checks re-run it on less data:

1. **Look-ahead**: for cut points ``t``, ``signal_fn(0, t)`` must equal ``signal_fn(0, n)[:t]``
   on the whole prefix (NaN equals NaN). A difference means the full-data signal at that bar
   used bars ``>= t``: it saw the future. The earliest divergent cut is narrowed by bisection
   so that the reported bar is the first one found to depend on later data.
2. **Recursive (warm-up) bias**: for start offsets ``s``, ``signal_fn(s, n)`` is compared with
   ``signal_fn(0, n)[s:]`` where both are non-NaN (each run's own warm-up is ignored). A
   difference means the value depends on where the data starts (an EMA seeded at the first
   bar, a cumulative sum, ...). It *converges* when the largest difference over the last 10%
   of the overlap is within tolerance, so discarding a long enough warm-up removes it; else
   it *persists* and the signal is not reproducible from a window of history.

Values are equal when ``|a - b| <= atol + rtol * |b|`` (``numpy.isclose``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.validation.splits import ValidationError, check_int

_DEFAULT_STARTS = (1, 10, 50, 200, 1000)
_TAIL_SHARE = 0.10
_VERDICT_TEXT = {
    "lookahead": "LOOK-AHEAD BIAS: the signal uses future bars",
    "recursive-persistent": "RECURSIVE BIAS that persists: values depend on the data start",
    "recursive-converging": "RECURSIVE BIAS that converges: discard a warm-up before use",
    "clean": "clean: no look-ahead or recursive bias detected",
}


@dataclass(frozen=True)
class Divergence:
    """The first bar at which a re-run disagrees with the full-data run.

    Attributes:
        check: ``"lookahead"`` or ``"recursive"``.
        offset: The cut ``t`` (look-ahead: data ``[0, t)``) or start ``s`` (recursive).
        bar: Absolute bar index of the first disagreement.
        expected: Full-data value at that bar.
        actual: Re-run value at that bar.
        column: Column of a 2-D signal (first disagreeing one), None for 1-D.
    """

    check: str
    offset: int
    bar: int
    expected: float
    actual: float
    column: int | None = None

    def describe(self) -> str:
        """One line naming the check, the data range, the bar and both values."""
        where = f"bar {self.bar}" + ("" if self.column is None else f", column {self.column}")
        data = f"[0, {self.offset})" if self.check == "lookahead" else f"[{self.offset}, n)"
        value = f"{self.actual!r} on data {data}, {self.expected!r} on all n bars"
        return f"{self.check}: {where} is {value}"


@dataclass(frozen=True)
class BiasReport:
    """Outcome of :func:`detect_bias`.

    Attributes:
        lookahead: True if some truncated run disagreed with the full run's prefix.
        first_divergence: The look-ahead divergence at the earliest bar if any, else the
            first recursive one, else None.
        recursive: True if a late-start run disagreed with the full run.
        recursive_converges: Whether every recursive difference fades within tolerance over
            the last 10% of its overlap; None when not recursive.
        max_recursive_diff: Largest absolute difference seen by the recursive check.
        checks_run: Number of re-runs compared with the full run.
        verdict: ``"lookahead"``, ``"recursive-persistent"``, ``"recursive-converging"`` or
            ``"clean"`` (in that order of precedence).
        recursive_divergence: The first recursive divergence, if any.
    """

    lookahead: bool
    first_divergence: Divergence | None
    recursive: bool
    recursive_converges: bool | None
    max_recursive_diff: float
    checks_run: int
    verdict: str
    recursive_divergence: Divergence | None = None

    def summary(self) -> str:
        """Readable multi-line report."""
        lines = [f"{_VERDICT_TEXT[self.verdict]} ({self.checks_run} checks)"]
        if self.lookahead and self.first_divergence is not None:
            lines.append("  first divergence: " + self.first_divergence.describe())
        if self.recursive:
            state = "converges" if self.recursive_converges else "does not converge"
            lines.append(f"  recursive: max difference {self.max_recursive_diff:.6g}, {state}")
            if self.recursive_divergence is not None:
                lines.append("  first " + self.recursive_divergence.describe())
        return "\n".join(lines)


def _run(signal_fn: Callable[[int, int], np.ndarray], start: int, stop: int) -> np.ndarray:
    try:
        out = np.array(signal_fn(start, stop), dtype=np.float64)
    except Exception as exc:  # the user's function: report which call failed
        raise ValidationError(
            f"signal_fn({start}, {stop}) failed: {exc!r}; it must accept any window of at "
            "least the smallest cut / start tested"
        ) from exc
    if out.ndim not in (1, 2) or out.shape[0] != stop - start:
        raise ValidationError(
            f"signal_fn({start}, {stop}) returned shape {out.shape}; expected {stop - start} "
            "rows (1-D, or 2-D bars x symbols)"
        )
    return out


def _mismatch(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    if expected.shape[1:] != actual.shape[1:]:
        raise ValidationError(
            f"signal columns changed between runs: {expected.shape[1:]} vs {actual.shape[1:]}"
        )
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    return bad.reshape(len(bad), -1)


def _divergence(
    check: str,
    offset: int,
    first_bar: int,
    expected: np.ndarray,
    actual: np.ndarray,
    bad: np.ndarray,
) -> Divergence:
    row, col = np.argwhere(bad)[0]
    flat_e, flat_a = expected.reshape(len(bad), -1), actual.reshape(len(bad), -1)
    return Divergence(
        check=check,
        offset=offset,
        bar=first_bar + int(row),
        expected=float(flat_e[row, col]),
        actual=float(flat_a[row, col]),
        column=None if expected.ndim == 1 else int(col),
    )


def _pick_cuts(n: int, cuts: Sequence[int] | None, n_cuts: int, seed: int) -> list[int]:
    if cuts is not None:
        chosen = [check_int("cut", t, 1) for t in cuts]
        if any(t > n - 1 for t in chosen):
            raise ValidationError(f"cuts must lie in [1, n_bars - 1 = {n - 1}], got {list(cuts)}")
        return sorted(set(chosen))
    n_cuts = check_int("n_cuts", n_cuts, 1)
    even = np.linspace(1, n - 1, num=math.ceil(n_cuts / 2)).round().astype(int)
    drawn = np.random.default_rng(seed).integers(1, n, size=n_cuts // 2)
    return sorted({int(t) for t in np.concatenate([even, drawn])})


def detect_bias(
    signal_fn: Callable[[int, int], np.ndarray],
    n_bars: int,
    *,
    cuts: Sequence[int] | None = None,
    n_cuts: int = 20,
    warmups: Sequence[int] | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int = 0,
) -> BiasReport:
    """Re-run a signal on truncated and late-starting data and report any divergence.

    Args:
        signal_fn: ``signal_fn(start, stop)`` -> ``stop - start`` rows computed from input bars
            ``[start, stop)`` only; it must be deterministic (fix any seed inside it).
        n_bars: Number of input bars ``n >= 3``.
        cuts: Cut points ``t`` in ``[1, n - 1]`` for the look-ahead check; None draws
            ``n_cuts`` of them: half evenly spaced, half uniformly at random from ``seed``.
        n_cuts: Number of cut points when ``cuts`` is None.
        warmups: Start offsets ``s`` in ``[1, n - 2]`` for the recursive check; None uses
            those of ``(1, 10, 50, 200, 1000)`` that are at most ``n // 2``.
        rtol: Relative tolerance of the comparisons.
        atol: Absolute tolerance of the comparisons.
        seed: Seed of the random cut points.

    Returns:
        The :class:`BiasReport`.

    Raises:
        ValidationError: For bad arguments, or when ``signal_fn`` fails or returns a wrong shape.
    """
    n = check_int("n_bars", n_bars, 3)
    if not (rtol >= 0.0 and atol >= 0.0):
        raise ValidationError(f"rtol and atol must be >= 0, got {rtol}, {atol}")
    if warmups is None:
        starts = [s for s in _DEFAULT_STARTS if s <= n // 2]
    else:
        starts = sorted({check_int("warm-up start", s, 1) for s in warmups})
        if starts and starts[-1] > n - 2:
            raise ValidationError(f"warm-up starts must lie in [1, n_bars - 2 = {n - 2}]")
    cut_points = _pick_cuts(n, cuts, n_cuts, seed)
    full = _run(signal_fn, 0, n)
    checks = 0

    def lookahead_at(t: int) -> Divergence | None:
        nonlocal checks
        checks += 1
        part = _run(signal_fn, 0, t)
        bad = _mismatch(full[:t], part, rtol, atol)
        return _divergence("lookahead", t, 0, full[:t], part, bad) if bad.any() else None

    found: Divergence | None = None
    clean = 0
    for t in cut_points:
        found = lookahead_at(t)
        if found is not None:
            break
        clean = t
    if found is not None:  # bisect between the last clean cut and the first divergent one
        lo, hi = clean, found.offset
        while hi - lo > 1:
            mid = (lo + hi) // 2
            at_mid = lookahead_at(mid)
            if at_mid is None:
                lo = mid
            else:
                hi = mid
                found = at_mid if at_mid.bar <= found.bar else found

    recursive_first: Divergence | None = None
    converges = True
    max_diff = 0.0
    for s in starts:
        checks += 1
        late = _run(signal_fn, s, n)
        ref = full[s:]
        bad = _mismatch(ref, late, rtol, atol)
        both = (~np.isnan(ref) & ~np.isnan(late)).reshape(bad.shape)
        bad &= both
        with np.errstate(invalid="ignore"):
            diff = np.abs(late - ref).reshape(bad.shape)
        diff = np.where(both & ~np.isnan(diff), diff, 0.0)
        max_diff = max(max_diff, float(diff.max(initial=0.0)))
        if bad.any():
            if recursive_first is None:
                recursive_first = _divergence("recursive", s, s, ref, late, bad)
            tail = max(1, math.ceil(_TAIL_SHARE * len(bad)))
            converges = converges and bool(both[-tail:].any()) and not bad[-tail:].any()

    recursive = recursive_first is not None
    if found is not None:
        verdict = "lookahead"
    elif recursive:
        verdict = "recursive-converging" if converges else "recursive-persistent"
    else:
        verdict = "clean"
    return BiasReport(
        lookahead=found is not None,
        first_divergence=found if found is not None else recursive_first,
        recursive=recursive,
        recursive_converges=converges if recursive else None,
        max_recursive_diff=max_diff,
        checks_run=checks,
        verdict=verdict,
        recursive_divergence=recursive_first,
    )
