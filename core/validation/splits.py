"""Purged K-fold and walk-forward splits with an embargo (López de Prado, AFML ch. 7).

Bars are indexed ``0 .. n-1``. The sample (position) decided at bar ``i`` earns returns until
bar ``i + horizon``: its *label interval* is the closed interval ``[i, i + horizon]``. A test
fold is a contiguous block of bars ``[a, b]``; the labels of its samples span
``[a, b + horizon]``. Training data must not share information with that span, so

* **purging** removes every training index ``i`` whose label interval overlaps the span,
  i.e. ``a - horizon <= i <= b + horizon`` (intervals are closed: touching counts as overlap,
  the conservative choice);
* the **embargo** then removes the ``embargo`` indices that follow the purged zone,
  ``b + horizon + 1 .. b + horizon + embargo``, against serial correlation that outlives the
  label (AFML section 7.4.2).

All index arrays are sorted ``int64`` arrays. Bad arguments raise :class:`ValidationError`.

Reference: M. López de Prado, *Advances in Financial Machine Learning*, Wiley 2018, ch. 7.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import BacktestError


class ValidationError(BacktestError):
    """Arguments to a validation statistic or split are inconsistent. Not retried."""


@dataclass(frozen=True, eq=False)
class Split:
    """One train/test split of bar indices.

    Attributes:
        train: Sorted training indices (purged and embargoed).
        test: Sorted test indices.
    """

    train: np.ndarray
    test: np.ndarray


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` that is at least ``minimum`` or raise ValidationError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValidationError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {number}")
    return number


def block_bounds(start: int, stop: int, n_blocks: int) -> list[tuple[int, int]]:
    """Split ``[start, stop)`` into ``n_blocks`` contiguous half-open blocks.

    Sizes differ by at most one bar; the first ``(stop - start) % n_blocks`` blocks are the
    longer ones (as ``numpy.array_split``).
    """
    size, extra = divmod(stop - start, n_blocks)
    bounds = []
    a = start
    for j in range(n_blocks):
        b = a + size + (1 if j < extra else 0)
        bounds.append((a, b))
        a = b
    return bounds


def purged_train(
    n: int, test_blocks: Sequence[tuple[int, int]], horizon: int, embargo: int
) -> np.ndarray:
    """Indices outside every test block, its purge zone and its embargo.

    Args:
        n: Number of bars.
        test_blocks: Half-open test blocks ``(a, b + 1)``.
        horizon: Label horizon in bars.
        embargo: Embargo in bars after each purged zone.

    Returns:
        Sorted training indices: every ``i`` with ``i < a - horizon`` or
        ``i > b + horizon + embargo`` for all blocks.
    """
    keep = np.ones(n, dtype=bool)
    for a, stop in test_blocks:
        keep[max(0, a - horizon) : min(n, stop - 1 + horizon + embargo + 1)] = False
    return np.flatnonzero(keep).astype(np.int64)


def _check_common(n: object, n_folds: object, horizon: object, embargo: object) -> tuple:
    n = check_int("n", n, 2)
    n_folds = check_int("n_folds", n_folds, 2)
    if n_folds > n:
        raise ValidationError(f"n_folds ({n_folds}) cannot exceed the number of bars n ({n})")
    return n, n_folds, check_int("horizon", horizon, 0), check_int("embargo", embargo, 0)


def purged_kfold(n: int, n_folds: int, *, horizon: int = 1, embargo: int = 0) -> list[Split]:
    """Purged K-fold cross-validation with an embargo (AFML section 7.4).

    The bars are cut into ``n_folds`` contiguous test folds (sizes differ by at most one); each
    fold trains on every other bar except those purged (label interval ``[i, i + horizon]``
    overlapping the fold's label span ``[a, b + horizon]``) or embargoed (the ``embargo`` bars
    after the purge zone). Every bar is tested exactly once.

    Args:
        n: Number of bars (samples), at least 2.
        n_folds: Number of folds, ``2 <= n_folds <= n``.
        horizon: Label horizon in bars (``>= 0``).
        embargo: Embargo in bars after each test fold's purge zone (``>= 0``).

    Returns:
        One :class:`Split` per fold, in time order.

    Raises:
        ValidationError: For bad arguments, or when purging leaves a fold without training data.
    """
    n, n_folds, horizon, embargo = _check_common(n, n_folds, horizon, embargo)
    splits = []
    for j, (a, b) in enumerate(block_bounds(0, n, n_folds)):
        train = purged_train(n, [(a, b)], horizon, embargo)
        if len(train) == 0:
            raise ValidationError(
                f"fold {j} (bars {a}..{b - 1}) has no training data left after purging "
                f"horizon={horizon} and embargo={embargo}; use fewer folds or a shorter horizon"
            )
        splits.append(Split(train=train, test=np.arange(a, b, dtype=np.int64)))
    return splits


def walk_forward(
    n: int,
    n_folds: int,
    *,
    horizon: int = 1,
    embargo: int = 0,
    expanding: bool = True,
    min_train: int | None = None,
) -> list[Split]:
    """Walk-forward splits: test folds move forward in time, training uses only the past.

    The first ``min_train`` bars form the initial training window (default: the first of
    ``n_folds + 1`` equal blocks); the remaining bars are cut into ``n_folds`` contiguous test
    folds. For a fold starting at bar ``a`` the training window ends before
    ``a - horizon - embargo``: purging drops the samples whose label ``[i, i + horizon]``
    reaches the fold, and since training always precedes the test fold the embargo acts as a
    further gap of ``embargo`` bars before it. With ``expanding=True`` training starts at bar 0;
    otherwise it is a rolling window as long as the initial one.

    Args:
        n: Number of bars, at least 2.
        n_folds: Number of test folds (``>= 2``).
        horizon: Label horizon in bars (``>= 0``).
        embargo: Extra gap in bars between training and test (``>= 0``).
        expanding: Expanding (True) or rolling (False) training window.
        min_train: Bars before the first test fold; ``None`` takes the first of ``n_folds + 1``
            near-equal blocks of the bars.

    Returns:
        One :class:`Split` per test fold, in time order; the test folds cover
        ``min_train .. n-1`` exactly once.

    Raises:
        ValidationError: For bad arguments, too few bars for the folds, or a fold whose training
            window is empty after the purge and embargo.
    """
    n, n_folds, horizon, embargo = _check_common(n, n_folds, horizon, embargo)
    if min_train is None:
        if n_folds + 1 > n:
            raise ValidationError(f"n={n} bars cannot hold {n_folds} test folds plus training")
        min_train = block_bounds(0, n, n_folds + 1)[0][1]
    min_train = check_int("min_train", min_train, 1)
    if n - min_train < n_folds:
        raise ValidationError(
            f"min_train={min_train} leaves {n - min_train} bars for {n_folds} test folds"
        )
    splits = []
    for j, (a, b) in enumerate(block_bounds(min_train, n, n_folds)):
        end = a - horizon - embargo
        start = 0 if expanding else max(0, end - min_train)
        if end <= start:
            raise ValidationError(
                f"walk-forward fold {j} (bars {a}..{b - 1}) has no training data: "
                f"horizon={horizon} + embargo={embargo} >= {a} bars before it; "
                "increase min_train"
            )
        splits.append(
            Split(
                train=np.arange(start, end, dtype=np.int64),
                test=np.arange(a, b, dtype=np.int64),
            )
        )
    return splits
