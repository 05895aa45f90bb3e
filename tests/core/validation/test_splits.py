"""Purged K-fold, walk-forward and CPCV: golden examples and brute-force property checks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BacktestError
from core.validation import Split, ValidationError, cpcv, purged_kfold, walk_forward


def blocks_of(test: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of a sorted index array."""
    cuts = np.flatnonzero(np.diff(test) != 1)
    starts = np.concatenate([[0], cuts + 1])
    ends = np.concatenate([cuts, [len(test) - 1]])
    return [(int(test[s]), int(test[e])) for s, e in zip(starts, ends, strict=True)]


def expected_train(n: int, test: np.ndarray, horizon: int, embargo: int) -> list[int]:
    """Brute force: keep i unless its label [i, i+h] meets a test label span or the embargo."""
    keep = []
    for i in range(n):
        ok = True
        for a, b in blocks_of(test):
            overlaps = i <= b + horizon and i + horizon >= a  # closed intervals
            embargoed = b + horizon < i <= b + horizon + embargo
            ok = ok and not overlaps and not embargoed
        if ok:
            keep.append(i)
    return keep


def assert_sound(split: Split, n: int, horizon: int, embargo: int) -> None:
    train, test = split.train, split.test
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert not set(train.tolist()) & set(test.tolist())
    for a, b in blocks_of(test):
        assert not np.any((train <= b + horizon) & (train + horizon >= a)), "label overlap"
        assert not np.any((train > b + horizon) & (train <= b + horizon + embargo)), "embargo"


# --- purged K-fold --------------------------------------------------------------------------


def test_kfold_golden_example() -> None:
    # n=10, 2 folds, horizon 1, embargo 1.
    # Fold 0 tests 0..4: purge [0-1, 4+1] = 0..5, embargo 6 -> train 7, 8, 9.
    # Fold 1 tests 5..9: purge [5-1, 9+1] = 4..9 -> train 0..3.
    first, second = purged_kfold(10, 2, horizon=1, embargo=1)
    assert first.test.tolist() == [0, 1, 2, 3, 4] and first.train.tolist() == [7, 8, 9]
    assert second.test.tolist() == [5, 6, 7, 8, 9] and second.train.tolist() == [0, 1, 2, 3]


def test_kfold_without_purge_is_plain_kfold() -> None:
    splits = purged_kfold(7, 3, horizon=0, embargo=0)
    assert [s.test.tolist() for s in splits] == [[0, 1, 2], [3, 4], [5, 6]]
    assert splits[1].train.tolist() == [0, 1, 2, 5, 6]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 200),
    n_folds=st.integers(2, 12),
    horizon=st.integers(0, 12),
    embargo=st.integers(0, 12),
)
def test_kfold_properties(n: int, n_folds: int, horizon: int, embargo: int) -> None:
    if n_folds > n:
        with pytest.raises(ValidationError, match="n_folds"):
            purged_kfold(n, n_folds, horizon=horizon, embargo=embargo)
        return
    try:
        splits = purged_kfold(n, n_folds, horizon=horizon, embargo=embargo)
    except ValidationError as exc:  # only legitimate when some fold keeps no training data
        assert "no training data" in str(exc)
        bounds = np.array_split(np.arange(n), n_folds)
        assert any(not expected_train(n, b, horizon, embargo) for b in bounds)
        return
    assert len(splits) == n_folds
    tested = np.sort(np.concatenate([s.test for s in splits]))
    assert tested.tolist() == list(range(n)), "every bar tested exactly once"
    sizes = [len(s.test) for s in splits]
    assert max(sizes) - min(sizes) <= 1
    for split in splits:
        assert len(blocks_of(split.test)) == 1, "contiguous test folds"
        assert_sound(split, n, horizon, embargo)
        assert split.train.tolist() == expected_train(n, split.test, horizon, embargo)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((5, 6), {}, "cannot exceed"),
        ((5, 1), {}, "n_folds must be >= 2"),
        ((1, 2), {}, "n must be >= 2"),
        ((10, 2), {"horizon": -1}, "horizon"),
        ((10, 2), {"embargo": -2}, "embargo"),
        ((10, 2.5), {}, "integer"),
        ((10, 2), {"horizon": 6}, "no training data"),
    ],
)
def test_kfold_rejects_bad_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        purged_kfold(*args, **kwargs)


def test_validation_error_is_a_backtest_error() -> None:
    with pytest.raises(BacktestError):
        purged_kfold(3, 4)


# --- walk-forward ---------------------------------------------------------------------------


def test_walk_forward_golden_expanding_and_rolling() -> None:
    # 12 bars, 3 folds: 4 blocks of 3, the first trains. Horizon 1 drops the bar before a fold.
    expanding = walk_forward(12, 3, horizon=1)
    assert [s.test.tolist() for s in expanding] == [[3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert [s.train.tolist() for s in expanding] == [[0, 1], [0, 1, 2, 3, 4], list(range(8))]
    rolling = walk_forward(12, 3, horizon=1, expanding=False)
    assert [s.train.tolist() for s in rolling] == [[0, 1], [2, 3, 4], [5, 6, 7]]
    gapped = walk_forward(12, 3, horizon=1, embargo=1, min_train=4)
    # Embargo 1 widens the gap: a fold starting at a trains on 0 .. a - 3.
    assert [s.test.tolist() for s in gapped] == [[4, 5, 6], [7, 8, 9], [10, 11]]
    assert [s.train.tolist() for s in gapped] == [[0, 1], [0, 1, 2, 3, 4], list(range(8))]


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(3, 200),
    n_folds=st.integers(2, 10),
    horizon=st.integers(0, 8),
    embargo=st.integers(0, 8),
    expanding=st.booleans(),
    min_train=st.one_of(st.none(), st.integers(1, 150)),
)
def test_walk_forward_properties(
    n: int, n_folds: int, horizon: int, embargo: int, expanding: bool, min_train: int | None
) -> None:
    try:
        splits = walk_forward(
            n, n_folds, horizon=horizon, embargo=embargo, expanding=expanding, min_train=min_train
        )
    except ValidationError:
        first = (
            n // (n_folds + 1) + (1 if n % (n_folds + 1) else 0) if min_train is None else min_train
        )
        assert n_folds > n or n - first < n_folds or first - horizon - embargo <= 0
        return
    first_test = splits[0].test[0]
    tested = np.concatenate([s.test for s in splits])
    assert tested.tolist() == list(range(first_test, n)), "forward, each bar once"
    window = first_test
    for split in splits:
        a = int(split.test[0])
        assert split.train.max() + horizon < a - embargo, "purged and gapped before the fold"
        assert np.all(np.diff(split.train) == 1)
        assert split.train[-1] == a - horizon - embargo - 1, "uses all the purged past"
        if expanding:
            assert split.train[0] == 0
        else:
            assert len(split.train) <= window
        assert_sound(split, n, horizon, embargo)


def test_walk_forward_rejects_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="leaves 2 bars for 3 test folds"):
        walk_forward(10, 3, min_train=8)
    with pytest.raises(ValidationError, match="no training data.*increase min_train"):
        walk_forward(20, 3, horizon=3, embargo=2, min_train=5)
    with pytest.raises(ValidationError, match="min_train must be >= 1"):
        walk_forward(20, 3, min_train=0)


# --- CPCV -----------------------------------------------------------------------------------


def test_cpcv_afml_six_groups_two_test_groups() -> None:
    # AFML ch. 12: N=6, k=2 gives C(6,2)=15 splits and phi = 2/6 * 15 = 5 paths.
    result = cpcv(60, 6, 2, horizon=0)
    assert len(result.splits) == 15 and result.n_paths == 5
    paths = result.paths()
    assert len(paths) == 5
    # Path 0 takes, for each group, the first split (lexicographic) that tests it.
    combos = result.combinations
    assert [combos[s] for s in paths[0]] == [(0, 1), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)]
    assert [combos[s] for s in paths[4]] == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (4, 5)]


@settings(max_examples=80, deadline=None)
@given(
    n_groups=st.integers(2, 8),
    data=st.data(),
    horizon=st.integers(0, 4),
    embargo=st.integers(0, 4),
)
def test_cpcv_properties(n_groups: int, data: st.DataObject, horizon: int, embargo: int) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    n = data.draw(st.integers(n_groups * 6, 120))
    try:
        result = cpcv(n, n_groups, k, horizon=horizon, embargo=embargo)
    except ValidationError as exc:  # only legitimate when purging empties some training set
        assert "no training data" in str(exc)
        groups = np.array_split(np.arange(n), n_groups)
        assert any(
            not expected_train(n, np.concatenate([groups[g] for g in c]), horizon, embargo)
            for c in itertools.combinations(range(n_groups), k)
        )
        return
    assert len(result.splits) == math.comb(n_groups, k)
    assert result.n_paths * n_groups == k * math.comb(n_groups, k), "phi = k/N * C(N,k)"
    for combo, split in zip(result.combinations, result.splits, strict=True):
        assert split.test.tolist() == sorted(i for g in combo for i in result.groups[g])
        assert_sound(split, n, horizon, embargo)
        assert split.train.tolist() == expected_train(n, split.test, horizon, embargo)
    used = set()
    for path in result.paths():
        assert len(path) == n_groups
        for g, s in enumerate(path):
            assert g in result.combinations[s], "the split assigned to a group tests it"
            used.add((s, g))
    assert used == {(s, g) for s, c in enumerate(result.combinations) for g in c}
    # Per-split OOS values tagged with bar and split: every path covers each bar exactly once.
    oos = [split.test * 100.0 + s for s, split in enumerate(result.splits)]
    assembled = result.assemble_paths(oos)
    assert assembled.shape == (result.n_paths, n)
    assert np.array_equal(np.floor(assembled / 100.0), np.tile(np.arange(n), (result.n_paths, 1)))
    for p, path in enumerate(result.paths()):
        for g, s in enumerate(path):
            assert np.all(assembled[p, result.groups[g]] % 100.0 == s)


def test_cpcv_assembles_identical_predictions_into_the_same_series() -> None:
    returns = np.random.default_rng(3).normal(size=(50, 2))
    result = cpcv(50, 5, 2, horizon=2, embargo=1)
    paths = result.assemble_paths([returns[s.test] for s in result.splits])
    assert paths.shape == (4, 50, 2)
    assert np.array_equal(paths, np.broadcast_to(returns, paths.shape))


def test_cpcv_rejects_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="smaller than n_groups"):
        cpcv(100, 4, 4)
    with pytest.raises(ValidationError, match="cannot exceed"):
        cpcv(3, 4, 1)
    with pytest.raises(ValidationError, match="no training data"):
        cpcv(20, 4, 3, horizon=5)
    result = cpcv(40, 4, 2)
    with pytest.raises(ValidationError, match="one per split"):
        result.assemble_paths([np.zeros(20)])
    with pytest.raises(ValidationError, match="expected shape"):
        result.assemble_paths([np.zeros(19)] * 6)
