"""Plan compilation: shared subexpressions, step order, buffer lifetimes."""

from __future__ import annotations

from core.dsl.nodes import Call, Const, Terminal, Window
from core.dsl.plan import compile_plan, count_tree_steps

close, volume = Terminal("close"), Terminal("volume")
delta = Call("delta", (close, Window(24)))
z = Call("ts_zscore", (delta, Window(168)))


def test_common_subexpressions_are_computed_once_across_the_batch():
    mean = Call("ts_mean", (delta, Window(10)))
    batch = [z, mean, Call("add", (z, mean))]
    plan = compile_plan(batch)
    # delta, ts_zscore, ts_mean, add: 4 kernel calls instead of 2 + 2 + 5 = 9
    assert count_tree_steps(batch) == 9
    assert [step.op for step in plan.steps] == ["delta", "ts_zscore", "ts_mean", "add"]
    assert plan.terminals == ("close",)
    assert plan.roots[2] == plan.steps[-1].out
    assert plan.shared_fraction(count_tree_steps(batch)) == 1 - 4 / 9


def test_leaves_are_slots_and_constants_are_deduplicated():
    batch = [close, Call("mul", (close, Const(2.0))), Call("add", (volume, Const(2.0)))]
    plan = compile_plan(batch)
    assert plan.terminals == ("close", "volume")
    assert plan.constants == (2.0,)
    assert plan.roots[0] == 0  # the terminal's own slot: no step
    assert len(plan.steps) == 2


def test_last_use_marks_when_a_buffer_can_be_recycled():
    plan = compile_plan([z, Call("abs", (delta,))])
    delta_slot = plan.steps[0].out
    assert plan.last_use[delta_slot] == 2  # read by ts_zscore (step 1) and abs (step 2)
    assert plan.last_use[plan.roots[0]] == -1  # a root nobody else reads


def test_window_and_scalar_arguments_land_in_the_step():
    plan = compile_plan([Call("clip", (Call("ts_corr", (close, volume, Window(20))),
                                       Const(-0.5), Const(0.5)))])
    corr, clip = plan.steps
    assert (corr.op, corr.window, len(corr.inputs)) == ("ts_corr", 20, 2)
    assert (clip.op, clip.scalars, clip.window) == ("clip", (-0.5, 0.5), 0)
    assert plan.constants == ()  # scalar arguments are not series slots
