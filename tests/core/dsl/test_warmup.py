"""Warm-up bars for hand-computed cases."""

from __future__ import annotations

import pytest

from core.dsl import Call, Terminal, parse, warmup_bars
from core.dsl.errors import DSLTypeError


@pytest.mark.parametrize(("text", "bars"), [
    ("close", 0),
    ("returns", 1),
    ("funding", 0),
    ("1.5", 0),
    ("(delay close 3)", 3),
    ("(delta close 5)", 5),
    ("(ts_mean close 1)", 0),
    ("(ts_mean (delta close 5) 10)", 5 + 9),
    ("(ts_std returns 20)", 1 + 19),
    ("(add (delay close 3) (ts_mean open 10))", 9),
    ("(if_gt returns 0 (delay close 7) open)", 7),
    ("(cs_rank (ts_mean returns 5))", 1 + 4),
    ("(ts_corr returns (delay volume 10) 20)", 10 + 19),
    ("(ema (ts_sum close 3) 4)", 2 + 3),
    ("(decay_linear (ts_zscore volume 24) 6)", 23 + 5),
    ("(ts_rank (ts_argmax high 5) 10)", 4 + 9),
    ("(clip (pow returns 2) -1 1)", 1),
    ("(zmom close 5 20)", 5 + 19),
    ("(delay (delay (delay close 1) 2) 3)", 6),
])
def test_hand_computed_warmup(text, bars):
    assert warmup_bars(parse(text)) == bars


def test_unexpanded_macro_is_an_error():
    with pytest.raises(DSLTypeError, match="unknown operator 'mr'"):
        warmup_bars(Call("mr", (Terminal("close"),)))
