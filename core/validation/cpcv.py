"""Combinatorial purged cross-validation (CPCV) and its backtest paths (AFML ch. 12).

The bars ``0 .. n-1`` are cut into ``N`` contiguous groups. Each of the ``C(N, k)`` splits tests
on ``k`` groups and trains on the rest, purged and embargoed around every test group exactly as
in :func:`core.validation.splits.purged_kfold`. Every group is tested in ``C(N-1, k-1)`` splits,
which yields ``phi = k / N * C(N, k) = C(N-1, k-1)`` backtest paths: path ``p`` takes, for each
group ``g``, the ``p``-th split (in lexicographic order) that tests ``g``. Each path therefore
covers every bar exactly once, out of sample, and every (split, test group) pair feeds exactly
one path.

Reference: M. López de Prado, *Advances in Financial Machine Learning*, Wiley 2018,
section 12.4 (combinatorial purged cross-validation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from core.validation.splits import (
    Split,
    ValidationError,
    block_bounds,
    check_int,
    purged_train,
)


@dataclass(frozen=True, eq=False)
class CPCV:
    """The splits of a combinatorial purged cross-validation.

    Attributes:
        n: Number of bars.
        n_groups: Number of groups ``N``.
        n_test_groups: Test groups per split ``k``.
        horizon: Label horizon in bars.
        embargo: Embargo in bars after each test group's purge zone.
        groups: The bar indices of each group, in time order.
        combinations: The test groups of each split, lexicographic order.
        splits: One :class:`Split` per combination (test = union of its groups).
    """

    n: int
    n_groups: int
    n_test_groups: int
    horizon: int
    embargo: int
    groups: tuple[np.ndarray, ...]
    combinations: tuple[tuple[int, ...], ...]
    splits: tuple[Split, ...]

    @property
    def n_paths(self) -> int:
        """Number of backtest paths ``phi = k / N * C(N, k) = C(N-1, k-1)``."""
        return math.comb(self.n_groups - 1, self.n_test_groups - 1)

    def paths(self) -> list[tuple[int, ...]]:
        """The backtest paths as split indices.

        Returns:
            ``n_paths`` tuples of length ``N``: ``path[g]`` is the index (into ``splits``) of
            the split whose out-of-sample predictions for group ``g`` the path uses.
        """
        testing = [
            [s for s, combo in enumerate(self.combinations) if g in combo]
            for g in range(self.n_groups)
        ]
        return [tuple(testing[g][p] for g in range(self.n_groups)) for p in range(self.n_paths)]

    def assemble_paths(self, oos: Sequence[ArrayLike]) -> np.ndarray:
        """Assemble per-path out-of-sample series from the per-split out-of-sample results.

        Args:
            oos: One array per split, ``oos[s]`` aligned with ``splits[s].test`` (first axis of
                length ``len(splits[s].test)``; extra axes such as symbols are kept).

        Returns:
            Float array of shape ``(n_paths, n, ...)``: row ``p`` is the out-of-sample series of
            path ``p`` over all bars.

        Raises:
            ValidationError: If the number of arrays or their lengths do not match the splits.
        """
        if len(oos) != len(self.splits):
            raise ValidationError(
                f"expected {len(self.splits)} out-of-sample arrays (one per split), got {len(oos)}"
            )
        arrays = [np.asarray(a, dtype=np.float64) for a in oos]
        tail = arrays[0].shape[1:] if arrays[0].ndim else ()
        for s, (array, split) in enumerate(zip(arrays, self.splits, strict=True)):
            if array.shape != (len(split.test), *tail):
                raise ValidationError(
                    f"out-of-sample array {s} has shape {array.shape}; split {s} tests "
                    f"{len(split.test)} bars, expected shape {(len(split.test), *tail)}"
                )
        out = np.full((self.n_paths, self.n, *tail), np.nan)
        for p, path in enumerate(self.paths()):
            for g, s in enumerate(path):
                where = np.searchsorted(self.splits[s].test, self.groups[g])
                out[p, self.groups[g]] = arrays[s][where]
        return out


def cpcv(n: int, n_groups: int, n_test_groups: int, *, horizon: int = 1, embargo: int = 0) -> CPCV:
    """Build the ``C(N, k)`` purged, embargoed splits of combinatorial purged CV.

    Args:
        n: Number of bars, at least ``n_groups``.
        n_groups: Number of contiguous groups ``N >= 2`` (sizes differ by at most one bar).
        n_test_groups: Test groups per split, ``1 <= k < N``.
        horizon: Label horizon in bars (``>= 0``).
        embargo: Embargo in bars after each test group's purge zone (``>= 0``).

    Returns:
        The :class:`CPCV` with its splits; ``paths()`` gives the ``k/N * C(N, k)`` paths.

    Raises:
        ValidationError: For bad arguments or a split left without training data.
    """
    n = check_int("n", n, 2)
    n_groups = check_int("n_groups", n_groups, 2)
    k = check_int("n_test_groups", n_test_groups, 1)
    horizon = check_int("horizon", horizon, 0)
    embargo = check_int("embargo", embargo, 0)
    if n_groups > n:
        raise ValidationError(f"n_groups ({n_groups}) cannot exceed the number of bars n ({n})")
    if k >= n_groups:
        raise ValidationError(
            f"n_test_groups ({k}) must be smaller than n_groups ({n_groups}) to leave training data"
        )
    bounds = block_bounds(0, n, n_groups)
    groups = tuple(np.arange(a, b, dtype=np.int64) for a, b in bounds)
    combinations = tuple(itertools.combinations(range(n_groups), k))
    splits = []
    for combo in combinations:
        train = purged_train(n, [bounds[g] for g in combo], horizon, embargo)
        if len(train) == 0:
            raise ValidationError(
                f"split testing groups {combo} has no training data left after purging "
                f"horizon={horizon} and embargo={embargo}; use more groups or fewer test groups"
            )
        test = np.concatenate([groups[g] for g in combo])
        splits.append(Split(train=train, test=test))
    return CPCV(
        n=n,
        n_groups=n_groups,
        n_test_groups=k,
        horizon=horizon,
        embargo=embargo,
        groups=groups,
        combinations=combinations,
        splits=tuple(splits),
    )
