"""Parser: accepted syntax, window/constant disambiguation, and errors that point into the text."""

from __future__ import annotations

import pytest

from core.dsl import Call, Const, Limits, Terminal, Window, parse, to_text
from core.dsl.errors import DSLLimitError, DSLSyntaxError, DSLTypeError
from core.dsl.reader import tokenize
from core.errors import DSLError


def error_of(text: str, **kwargs) -> DSLError:
    with pytest.raises(DSLError) as caught:
        parse(text, **kwargs)
    return caught.value


# --- accepted input ---------------------------------------------------------------------------

def test_bare_terminal_and_bare_number_are_expressions():
    assert parse("close") == Terminal("close")
    assert parse("funding") == Terminal("funding")
    assert parse("  42 ") == Const(42.0)
    assert parse("-1.5") == Const(-1.5)


@pytest.mark.parametrize(("text", "value"), [
    ("1", 1.0), ("-1.5", -1.5), ("+2", 2.0), ("1e-3", 1e-3), (".5", 0.5), ("-.25", -0.25),
    ("3.", 3.0), ("1E+16", 1e16), ("2.5e2", 250.0),
])
def test_number_formats(text, value):
    assert parse(f"(add close {text})") == Call("add", (Terminal("close"), Const(value)))


def test_window_slot_gives_window_and_series_slot_gives_const():
    node = parse("(ts_mean (add close 20) 20)")
    assert node == Call("ts_mean", (Call("add", (Terminal("close"), Const(20.0))), Window(20)))
    assert isinstance(node.args[1], Window) and isinstance(node.args[0].args[1], Const)


def test_scalar_slots_give_consts():
    assert parse("(clip close -1 1)") == Call(
        "clip", (Terminal("close"), Const(-1.0), Const(1.0)))
    assert parse("(pow close 0.5)") == Call("pow", (Terminal("close"), Const(0.5)))


def test_whitespace_newlines_tabs_and_comments():
    text = """
    ; momentum, normalised
    (ts_zscore        ; outer
        (delta\tclose
               5)     ; inner
      20)
    ; trailing comment without newline"""
    assert parse(text) == parse("(ts_zscore (delta close 5) 20)")


def test_tokenizer_offsets():
    tokens = tokenize("(add close\n  -1.5) ; c")
    assert [(t.kind, t.text, t.start) for t in tokens] == [
        ("(", "(", 0), ("name", "add", 1), ("name", "close", 5), ("number", "-1.5", 13),
        (")", ")", 17), ("end", "", 22),
    ]


def test_every_operator_parses():
    for text in ["(if_gt close open high low)", "(ts_corr close volume 10)",
                 "(ts_cov close open 2)", "(cs_rank (decay_linear returns 5))",
                 "(ema vwap 2000)", "(ts_argmax high 2)", "(sqrt (log volume))"]:
        assert to_text(parse(text)) == text


# --- errors: position, expected, found --------------------------------------------------------

def test_unbalanced_parenthesis():
    err = error_of("(ts_mean close 10")
    assert isinstance(err, DSLSyntaxError)
    assert "expected ')' to close '(ts_mean' opened at 1:1, found end of input at 1:18" in str(err)
    assert "(offset 17)" in str(err)
    assert err.position == 17 and (err.line, err.column) == (1, 18)
    assert str(err).splitlines()[-1] == "  " + " " * 17 + "^"


def test_unbalanced_names_the_innermost_open_call():
    err = error_of("(add close\n  (ts_mean open 5)\n  (delta high 3")
    assert "to close '(delta' opened at 3:3" in str(err)
    assert "found end of input at 3:16" in str(err)


def test_extra_closing_parenthesis_is_trailing_garbage():
    err = error_of("(ts_mean close 10))")
    assert isinstance(err, DSLSyntaxError)
    assert "expected end of input after the expression ending at 1:18" in str(err)
    assert "found ')' at 1:19 (offset 18)" in str(err)


def test_trailing_garbage():
    err = error_of("(ts_mean close 10) close")
    assert isinstance(err, DSLSyntaxError)
    assert "expected end of input" in str(err) and "found name 'close' at 1:20" in str(err)
    assert err.expected == "end of input" and err.found == "name 'close'"


@pytest.mark.parametrize("text", ["", "   \n\t", "; only a comment\n"])
def test_empty_input(text):
    err = error_of(text)
    assert isinstance(err, DSLSyntaxError)
    assert "expected an expression, found end of input" in str(err)
    assert err.position == len(text)


def test_lone_closing_parenthesis():
    err = error_of(")")
    assert "expected an expression, found ')' at 1:1 (offset 0)" in str(err)


@pytest.mark.parametrize(("text", "found"), [("()", "')'"), ("(1 2)", "number 1"),
                                             ("((add close open) 1)", "expression")])
def test_call_needs_an_operator_name(text, found):
    err = error_of(text)
    assert isinstance(err, DSLSyntaxError)
    assert "expected an operator name for '(' opened at 1:1" in str(err)
    assert f"found {found}" in str(err) and "at 1:2 (offset 1)" in str(err)


def test_malformed_token():
    err = error_of("(add close x-1)")
    assert isinstance(err, DSLSyntaxError)
    assert "found 'x-1' at 1:12 (offset 11)" in str(err)


def test_unknown_operator_with_suggestion():
    err = error_of("(ts_mea close 10)")
    assert isinstance(err, DSLTypeError)
    assert "unknown operator 'ts_mea' at 1:2 (offset 1) (did you mean 'ts_mean'?)" in str(err)
    assert err.found == "'ts_mea'" and "operator" in err.expected


def test_unknown_operator_without_close_match_has_no_suggestion():
    err = error_of("(frobnicate close)")
    assert "unknown operator 'frobnicate'" in str(err) and "did you mean" not in str(err)


def test_terminal_used_as_operator():
    err = error_of("(close)")
    assert "unknown operator 'close'" in str(err) and "without parentheses" in str(err)


def test_unknown_terminal_with_suggestion_on_a_later_line():
    err = error_of("(add\n  (ts_mean close 10)\n  (ts_mean clos 20))")
    assert isinstance(err, DSLTypeError)
    assert "unknown terminal 'clos' at 3:12 (offset 37) (did you mean 'close'?)" in str(err)
    assert str(err).splitlines()[-2] == "    (ts_mean clos 20))"


def test_operator_name_used_as_a_series():
    err = error_of("(ts_mean ts_mean 3)")
    assert "expected a series expression for argument 1 of 'ts_mean'" in str(err)
    assert "found operator 'ts_mean' at 1:10" in str(err)


@pytest.mark.parametrize(("text", "found", "offset"), [
    ("(ts_mean close)", "1", 14),          # too few: points at ')'
    ("(ts_mean close 10 3)", "3", 18),     # too many: points at the first extra argument
    ("(neg)", "0", 4),
])
def test_wrong_arity(text, found, offset):
    err = error_of(text)
    assert isinstance(err, DSLTypeError)
    assert "expected 2 argument(s) (ts_mean series window)" in str(err) or text == "(neg)"
    assert f"found {found} at 1:{offset + 1} (offset {offset})" in str(err)
    assert err.position == offset


def test_window_not_an_integer():
    err = error_of("(ts_std close 24.0)")
    assert isinstance(err, DSLTypeError)
    assert ("expected integer window >= 2 for argument 2 of 'ts_std', found 24.0 at 1:15 "
            "(offset 14)") in str(err)
    assert err.expected == "integer window >= 2" and err.found == "24.0"
    for text in ("(ts_mean close 2.5)", "(ts_mean close 1e1)"):
        assert "expected integer window >= 1" in str(error_of(text))


def test_window_below_minimum():
    err = error_of("(ts_std close 1)")
    assert "expected integer window >= 2 for argument 2 of 'ts_std', found 1 at 1:15" in str(err)
    assert "expected integer window >= 1" in str(error_of("(delay close 0)"))
    assert "found -3" in str(error_of("(ts_mean close -3)"))


def test_window_above_max_window():
    err = error_of("(ts_mean close 5000)")
    assert "expected integer window <= 2000 (MAX_WINDOW)" in str(err)
    assert "found 5000 at 1:16" in str(err)
    assert parse("(ts_mean close 2000)").args[1] == Window(2000)


def test_expression_or_name_given_as_window():
    err = error_of("(ts_mean close (add 1 2))")
    assert ("expected integer window >= 1 for argument 2 of 'ts_mean', found expression "
            "'(add 1 2)' at 1:16 (offset 15)") in str(err)
    assert "found name 'close' at 1:16" in str(error_of("(ts_mean close close)"))


def test_scalar_given_an_expression_or_a_name():
    err = error_of("(pow close (abs close))")
    assert ("expected a numeric literal (scalar) for argument 2 of 'pow', found expression "
            "'(abs close)' at 1:12") in str(err)
    assert "found name 'close' at 1:13" in str(error_of("(clip close close 1)"))


def test_pow_exponent_bounds():
    err = error_of("(pow close 5)")
    assert "expected exponent in [-4, 4] for argument 2 of 'pow', found 5 at 1:12" in str(err)
    assert parse("(pow close -4)").args[1] == Const(-4.0)


@pytest.mark.parametrize("text", ["(clip close 1 -1)", "(clip close 0.5 0.5)"])
def test_clip_bounds(text):
    err = error_of(text)
    assert isinstance(err, DSLTypeError)
    assert "expected lo < hi for 'clip'" in str(err) and ">= hi" in str(err)
    assert err.position == text.rindex(" ") + 1  # points at hi


def test_non_finite_number():
    assert "expected a finite number" in str(error_of("(add close 1e999)"))
    assert "unknown terminal 'inf'" in str(error_of("(add close inf)"))


def test_macros_can_be_disabled():
    assert parse("(mr close 10)").op == "neg"
    err = error_of("(mr close 10)", macros=False)
    assert "unknown operator 'mr'" in str(err) and "macros are disabled" in str(err)


# --- limits -----------------------------------------------------------------------------------

def chain(depth: int) -> str:
    return "(neg " * (depth - 1) + "close" + ")" * (depth - 1)


def test_depth_limit():
    assert parse(chain(12)) is not None
    err = error_of(chain(13))
    assert isinstance(err, DSLLimitError)
    assert "max_depth=12" in str(err) and "depth 13" in str(err)
    assert parse(chain(13), limits=Limits(max_depth=13)) is not None


def test_deep_nesting_is_rejected_while_reading_without_recursion_error():
    err = error_of("(neg " * 5000 + "close" + ")" * 5000)
    assert isinstance(err, DSLLimitError)
    assert "depth <= 12 (max_depth)" in str(err) and "13 nested parentheses" in str(err)


def test_size_limit_is_applied_after_macro_expansion():
    wide = "(add " * 7 + "close" + " open)" * 7  # 15 nodes
    assert parse(wide, limits=Limits(max_size=15)) is not None
    err = error_of(wide, limits=Limits(max_size=14))
    assert isinstance(err, DSLLimitError)
    assert "15 nodes exceed max_size=14" in str(err)
    # (range_pos 5) is 2 nodes as text, 13 once expanded
    err = error_of("(range_pos 5)", limits=Limits(max_size=10))
    assert "13 nodes exceed max_size=10" in str(err)


def test_errors_exit_with_code_two():
    assert error_of("(").exit_code == 2


def test_non_text_input_is_a_type_error():
    with pytest.raises(TypeError):
        parse(Terminal("close"))  # type: ignore[arg-type]
