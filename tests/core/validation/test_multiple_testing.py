"""Benjamini-Hochberg and Holm: the 1995 paper's example, independent implementations, theorems."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import false_discovery_control

from core.validation import ValidationError, benjamini_hochberg, holm

# Benjamini & Hochberg (1995), section 4.1: 15 p-values from a myocardial infarction study.
BH_1995 = [
    0.0201, 0.7590, 0.0001, 0.3240, 0.0004, 0.0278, 0.0019, 0.4262,
    0.0095, 0.0298, 0.5719, 0.0344, 0.6528, 0.0459, 1.0000,
]  # fmt: skip


def step_up_bh(p: list[float], alpha: float) -> set[int]:
    """Reject the k smallest, k = max{i : p_(i) <= i alpha / m} (1-based), by a plain loop."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    k = 0
    for rank, i in enumerate(order, start=1):
        if p[i] <= rank * alpha / len(p):
            k = rank
    return set(order[:k])


def step_down_holm(p: list[float], alpha: float) -> set[int]:
    """Reject while p_(i) <= alpha / (m - i + 1), stop at the first failure."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    rejected = set()
    for rank, i in enumerate(order, start=1):
        if p[i] > alpha / (len(p) - rank + 1):
            break
        rejected.add(i)
    return rejected


def test_benjamini_hochberg_1995_example() -> None:
    result = benjamini_hochberg(BH_1995, 0.05)
    # The paper: BH rejects the four smallest (up to 0.0095 <= 4 * 0.05 / 15 = 0.0133), while
    # 0.0201 > 5 * 0.05 / 15 = 0.0167 and no later p_(i) is below i * 0.05 / 15.
    rejected = sorted(np.asarray(BH_1995)[result.rejected].tolist())
    assert rejected == [0.0001, 0.0004, 0.0019, 0.0095]
    np.testing.assert_allclose(result.adjusted, false_discovery_control(BH_1995), rtol=1e-12)
    # Hand-computed adjusted values of the four smallest: m p / i, then running minimum.
    smallest = np.sort(result.adjusted)[:4]
    np.testing.assert_allclose(smallest, [0.0015, 0.003, 0.0095, 0.035625])


def test_holm_on_the_1995_example() -> None:
    result = holm(BH_1995, 0.05)
    # 0.0001 <= .05/15, 0.0004 <= .05/14, 0.0019 <= .05/13 = 0.00385, 0.0095 > .05/12 = 0.00417
    assert sorted(np.asarray(BH_1995)[result.rejected].tolist()) == [0.0001, 0.0004, 0.0019]
    np.testing.assert_allclose(np.sort(result.adjusted)[:4], [0.0015, 0.0056, 0.0247, 0.114])


def test_ties_share_adjusted_values_and_order_is_preserved() -> None:
    p = [0.04, 0.01, 0.04, 0.2]
    bh, hm = benjamini_hochberg(p, 0.05), holm(p, 0.05)
    assert bh.adjusted[0] == bh.adjusted[2] and hm.adjusted[0] == hm.adjusted[2]
    np.testing.assert_allclose(bh.adjusted, [4 * 0.04 / 3, 0.04, 4 * 0.04 / 3, 0.2])
    np.testing.assert_allclose(hm.adjusted, [0.12, 0.04, 0.12, 0.2])


p_lists = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(p=p_lists, alpha=st.floats(0.001, 0.5))
def test_rejections_match_the_textbook_procedures(p: list[float], alpha: float) -> None:
    m = len(p)
    # Skip p-values sitting on a threshold, where rounding of p*m/i vs i*alpha/m may differ.
    assume(all(abs(x - i * alpha / m) > 1e-12 for x in p for i in range(1, m + 1)))
    assume(all(abs(x - alpha / i) > 1e-12 for x in p for i in range(1, m + 1)))
    assert set(np.flatnonzero(benjamini_hochberg(p, alpha).rejected)) == step_up_bh(p, alpha)
    assert set(np.flatnonzero(holm(p, alpha).rejected)) == step_down_holm(p, alpha)
    np.testing.assert_allclose(benjamini_hochberg(p, alpha).adjusted, false_discovery_control(p))


@settings(max_examples=300, deadline=None)
@given(p=p_lists, alpha=st.floats(0.001, 0.5))
def test_theorems(p: list[float], alpha: float) -> None:
    raw = np.asarray(p)
    bh, hm = benjamini_hochberg(p, alpha), holm(p, alpha)
    # Adjusted p-values lie in [raw, 1] and Holm's are never below BH's, since
    # (m - i + 1) >= m / i for 1 <= i <= m; hence Holm ⊆ BH ⊆ {p <= alpha} for any p-values.
    for adjusted in (bh.adjusted, hm.adjusted):
        assert np.all(adjusted >= raw) and np.all(adjusted <= 1.0)
    assert np.all(hm.adjusted >= bh.adjusted - 1e-15)
    assert not np.any(bh.rejected & (raw > alpha)), "BH never rejects more than uncorrected"
    assert not np.any(hm.rejected & ~bh.rejected), "Holm rejections are a subset of BH's"
    assert hm.rejected.sum() <= bh.rejected.sum() <= (raw <= alpha).sum()
    # Monotone: a smaller p-value never gets a larger adjusted p-value.
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(bh.adjusted[order]) >= 0) and np.all(np.diff(hm.adjusted[order]) >= 0)


@pytest.mark.parametrize(
    ("p", "alpha", "match"),
    [
        ([], 0.05, "non-empty"),
        ([0.1, 1.2], 0.05, "entry 1 is 1.2"),
        ([0.1, float("nan")], 0.05, "entry 1 is nan"),
        ([[0.1]], 0.05, "1-D"),
        ([0.1], 0.0, "alpha"),
        ([0.1], 1.0, "alpha"),
    ],
)
def test_bad_inputs_raise(p: list, alpha: float, match: str) -> None:
    for procedure in (benjamini_hochberg, holm):
        with pytest.raises(ValidationError, match=match):
            procedure(p, alpha)
