"""typecheck() on hand-built trees: the parser's rules without positions."""

from __future__ import annotations

import pytest

from core.dsl import Call, Const, Terminal, Window, parse, typecheck
from core.dsl.errors import DSLTypeError
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind

C = Terminal("close")


def fails(node) -> DSLTypeError:
    with pytest.raises(DSLTypeError) as caught:
        typecheck(node)
    assert caught.value.position is None
    return caught.value


def test_well_typed_trees_pass_and_are_returned():
    node = Call("ts_mean", (Call("delta", (C, Window(5))), Window(10)))
    assert typecheck(node) is node
    assert typecheck(C) is C and typecheck(Const(1.0)) == Const(1.0)
    assert typecheck(Terminal("funding")) == Terminal("funding")


def test_every_operator_accepts_its_signature():
    for spec in OPERATORS.values():
        args = []
        for kind in spec.args:
            if kind is ArgKind.SERIES:
                args.append(C)
            elif kind is ArgKind.WINDOW:
                args.append(Window(max(spec.min_window, 5)))
            else:
                args.append(Const(float(len(args))))  # clip: 1.0 < 2.0; pow: 1.0
        typecheck(Call(spec.name, tuple(args)))


def test_const_given_as_window():
    err = fails(Call("ts_std", (C, Const(24.0))))
    assert "in (ts_std close 24.0): expected integer window >= 2 for argument 2 of 'ts_std'" \
        in str(err)
    assert err.found == "constant 24.0"


def test_window_bounds():
    assert "expected integer window >= 2" in str(fails(Call("ts_rank", (C, Window(1)))))
    err = fails(Call("ts_mean", (C, Window(MAX_WINDOW + 1))))
    assert "integer window <= 2000" in str(err) and "found 2001" in str(err)
    assert "found window True" in str(fails(Call("ts_mean", (C, Window(True)))))  # type: ignore


def test_window_given_as_series_or_top_level():
    assert "expected a series expression for argument 1 of 'abs', found window 5" in str(
        fails(Call("abs", (Window(5),))))
    assert "found window 5" in str(fails(Window(5)))


def test_expression_given_as_window_or_scalar():
    err = fails(Call("ts_mean", (C, Call("abs", (C,)))))
    assert "expected integer window >= 1" in str(err) and "found expression (abs close)" in str(err)
    err = fails(Call("pow", (C, C)))
    assert "expected a numeric literal (scalar) for argument 2 of 'pow', found terminal 'close'" \
        in str(err)


def test_arity_and_unknown_names():
    err = fails(Call("ts_mean", (C,)))
    assert "expected 2 argument(s) (ts_mean series window)" in str(err) and "found 1" in str(err)
    assert "unknown operator 'nope'" in str(fails(Call("nope", (C,))))
    assert "expand() it first" in str(fails(Call("mr", (C, Window(5)))))
    assert "unknown terminal 'clos'" in str(fails(Call("abs", (Terminal("clos"),))))
    err = fails(Call("abs", ("close",)))  # type: ignore[arg-type]
    assert "expected an AST node for argument 1 of 'abs', found 'close'" in str(err)


def test_pow_and_clip_constraints():
    assert "exponent in [-4, 4]" in str(fails(Call("pow", (C, Const(4.5)))))
    err = fails(Call("clip", (C, Const(1.0), Const(-1.0))))
    assert "expected lo < hi for 'clip', found lo 1.0 >= hi -1.0" in str(err)


def test_parse_output_always_typechecks():
    for text in ["(clip (ts_zscore close 20) -2 2)", "(zmom close 5 20)", "1", "returns"]:
        typecheck(parse(text))
