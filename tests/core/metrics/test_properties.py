"""Property tests for the metrics."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from core.metrics import (
    cvar,
    drawdown_series,
    hit_rate,
    max_drawdown,
    max_drawdown_duration,
    profit_factor,
    sharpe_ratio,
    simple_returns,
    total_return,
    value_at_risk,
)

positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
small_return = st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_infinity=False)
pnl_value = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(positive, min_size=1, max_size=200))
def test_max_drawdown_in_unit_interval(equity: list[float]) -> None:
    depth = max_drawdown(equity)
    assert -1.0 <= depth <= 0.0
    assert 0 <= max_drawdown_duration(equity) <= len(equity) - 1
    dd = drawdown_series(equity)
    assert np.all(dd <= 0.0) and np.all(dd >= -1.0)


@given(
    st.lists(small_return, min_size=2, max_size=200),
    st.floats(min_value=1e-2, max_value=1e2, allow_nan=False),
)
def test_sharpe_invariant_to_positive_scaling(returns: list[float], scale: float) -> None:
    r = np.asarray(returns)
    assume(np.std(r) > 1e-6)
    base = sharpe_ratio(r, 365)
    assert math.isclose(sharpe_ratio(r * scale, 365), base, rel_tol=1e-7, abs_tol=1e-9)


@given(positive, st.lists(small_return, min_size=1, max_size=200))
def test_total_return_is_compounded_simple_returns(start: float, steps: list[float]) -> None:
    # bar-to-bar moves within +-50%: 1 + r then keeps its precision
    equity = start * np.cumprod(np.concatenate(([1.0], 1.0 + np.asarray(steps))))
    compounded = float(np.prod(1.0 + simple_returns(equity)) - 1.0)
    assert math.isclose(total_return(equity), compounded, rel_tol=1e-9, abs_tol=1e-9)


@given(st.lists(pnl_value, max_size=100))
def test_hit_rate_in_unit_interval(pnl: list[float]) -> None:
    rate = hit_rate(pnl)
    if pnl:
        assert 0.0 <= rate <= 1.0
    else:
        assert math.isnan(rate)
    factor = profit_factor(pnl)
    assert math.isnan(factor) or factor >= 0.0


@given(
    st.lists(small_return, min_size=1, max_size=300),
    st.floats(min_value=0.5, max_value=0.999),
)
def test_cvar_not_above_var_or_mean(returns: list[float], level: float) -> None:
    tail_mean = cvar(returns, level)
    assert tail_mean <= value_at_risk(returns, level) + 1e-15
    assert tail_mean <= float(np.mean(returns)) + 1e-12
