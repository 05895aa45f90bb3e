"""Macros: registry, expansion at parse time, typed parameters and error positions."""

from __future__ import annotations

import pytest

from core.dsl import (
    MACROS,
    OPERATORS,
    TERMINALS,
    Call,
    Const,
    Terminal,
    Window,
    expand,
    list_macros,
    parse,
    to_text,
    typecheck,
)
from core.dsl import macros as macros_module
from core.dsl.errors import DSLTypeError
from core.dsl.macros import Macro, compile_macro
from core.errors import DSLError


def test_macro_names_do_not_collide_with_operators_or_terminals():
    assert not set(MACROS) & set(OPERATORS)
    assert not set(MACROS) & set(TERMINALS)
    with pytest.raises(ValueError, match="collides"):
        macros_module._registry((Macro("ts_mean", ("x",), "(abs x)", "clash"),))
    with pytest.raises(ValueError, match="invalid parameter"):
        macros_module._registry((Macro("m", ("close",), "(abs close)", "bad param"),))


def test_every_template_compiles_and_uses_every_parameter():
    assert len(MACROS) >= 12
    for name, macro in MACROS.items():
        compiled = compile_macro(name)
        assert isinstance(compiled.body, Call)
        assert len(compiled.slots) == len(macro.params)


@pytest.mark.parametrize(("call", "expansion"), [
    ("(zmom close 5 20)", "(ts_zscore (delta close 5) 20)"),
    ("(mr close 10)", "(neg (ts_zscore close 10))"),
    ("(vol_mom close 5 20)", "(div (delta close 5) (ts_std close 20))"),
    ("(range_pos 14)",
     "(div (sub close (ts_min low 14)) (sub (ts_max high 14) (ts_min low 14)))"),
    ("(vol_surprise 24)", "(ts_zscore volume 24)"),
    ("(ma_cross close 10 50)", "(sub (ts_mean close 10) (ts_mean close 50))"),
    ("(funding_carry 8)", "(neg (ts_mean funding 8))"),
])
def test_expansion(call, expansion):
    assert parse(call) == parse(expansion)


def test_series_parameters_take_any_expression_and_macros_nest():
    node = parse("(mr (ma_cross (log close) 5 20) 10)")
    assert to_text(node) == (
        "(neg (ts_zscore (sub (ts_mean (log close) 5) (ts_mean (log close) 20)) 10))")
    assert parse("(mr 1.5 10)").args[0].args[0] == Const(1.5)


def test_window_parameter_error_points_at_the_macro_argument():
    with pytest.raises(DSLTypeError) as caught:
        parse("(add open (zmom close 2.5 10))")
    err = caught.value
    assert ("expected integer window >= 1 for argument 2 ('n') of macro 'zmom', "
            "found 2.5 at 1:23 (offset 22)") in str(err)
    assert err.position == 22


def test_window_parameter_minimum_is_the_largest_of_its_uses():
    # sharpe_mom's n feeds ts_mean (>= 1) and ts_std (>= 2)
    with pytest.raises(DSLTypeError, match=r"integer window >= 2 for argument 1 \('n'\)"):
        parse("(sharpe_mom 1)")
    assert parse("(sharpe_mom 2)") is not None


def test_macro_arity_and_kind_errors():
    with pytest.raises(DSLTypeError, match=r"expected 3 argument\(s\) \(zmom x n m\)"):
        parse("(zmom close 5)")
    with pytest.raises(DSLTypeError, match="found expression"):
        parse("(vol_surprise (abs close))")
    with pytest.raises(DSLError, match=r"unknown terminal 'clos' at 1:6"):
        parse("(mr  clos 10)")


def test_cross_argument_errors_in_an_expansion_point_at_the_macro_call(monkeypatch):
    monkeypatch.setitem(MACROS, "band", Macro("band", ("x", "lo", "hi"), "(clip x lo hi)",
                                              "test-only clip band"))
    compile_macro.cache_clear()
    try:
        assert parse("(band close -1 1)") == parse("(clip close -1 1)")
        with pytest.raises(DSLTypeError) as caught:
            parse("(abs (band close 1 -1))")
        assert "in the expansion of macro 'band' at 1:6 (offset 5)" in str(caught.value)
        assert "expected lo < hi" in str(caught.value)
        assert caught.value.position == 5
    finally:
        compile_macro.cache_clear()


def test_expand_on_hand_built_trees_coerces_numbers():
    hand = Call("zmom", (Terminal("close"), Const(5.0), Window(20)))
    assert expand(hand) == parse("(zmom close 5 20)")
    assert typecheck(expand(hand)) is not None
    nested = Call("abs", (Call("mr", (Window(3), Window(10))),))
    assert to_text(expand(nested)) == "(abs (neg (ts_zscore 3.0 10)))"
    assert expand(Terminal("close")) == Terminal("close")
    with pytest.raises(DSLTypeError, match="expected 2 argument"):
        expand(Call("mr", (Terminal("close"),)))


def test_list_macros_documents_everything():
    rows = list_macros()
    assert [row["name"] for row in rows] == sorted(MACROS)
    zmom = next(row for row in rows if row["name"] == "zmom")
    assert zmom["params"] == ("x", "n", "m")
    assert zmom["signature"] == "(zmom x n m)"
    assert zmom["template"] == "(ts_zscore (delta x n) m)"
    assert zmom["kinds"] == {"x": "a series expression", "n": "integer window >= 1",
                             "m": "integer window >= 2"}
    assert all(row["description"] for row in rows)


@pytest.mark.parametrize(("template", "problem"), [
    ("(abs x)", "parameter 'n' is unused"),
    ("(add x (ts_mean close x))", "used as more than one kind"),
    ("x", "must be a call"),
])
def test_misused_parameters_are_rejected_when_compiled(monkeypatch, template, problem):
    monkeypatch.setitem(MACROS, "bad", Macro("bad", ("x", "n") if "n" in problem else ("x",),
                                             template, "test-only"))
    compile_macro.cache_clear()
    try:
        with pytest.raises(ValueError, match=problem):
            compile_macro("bad")
    finally:
        compile_macro.cache_clear()
