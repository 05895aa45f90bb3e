"""The lifecycle state machine (core.governance.lifecycle)."""

from __future__ import annotations

import itertools

import pytest

from core.errors import LifecycleError
from core.governance.lifecycle import ALLOWED, LIFECYCLE, Status, check_move, parse_status

EXPECTED = {
    ("born", "validated"), ("born", "retired"),
    ("validated", "candidate"), ("validated", "retired"),
    ("candidate", "active"), ("candidate", "retired"),
    ("active", "candidate"), ("active", "retired"),
}
"""Every allowed move, written out: a change of the rules must change this test."""


def test_exactly_the_written_moves_are_allowed() -> None:
    allowed = set()
    for current, target in itertools.product(LIFECYCLE, repeat=2):
        try:
            assert check_move("alpha x", current, target) is Status(target)
            allowed.add((current, target))
        except LifecycleError:
            pass
    assert allowed == EXPECTED
    assert LIFECYCLE == ("born", "validated", "candidate", "active", "retired")
    assert ALLOWED[Status.RETIRED] == ()


def test_a_refused_move_names_the_subject_and_what_is_allowed() -> None:
    with pytest.raises(LifecycleError) as caught:
        check_move("trial 1a2b in layer '1h'", "validated", "active")
    assert str(caught.value) == ("trial 1a2b in layer '1h' cannot go validated -> active; "
                                 "allowed from validated: candidate, retired")
    with pytest.raises(LifecycleError, match="allowed from retired: nothing \\(final\\)"):
        check_move("policy p", "retired", "active")


@pytest.mark.parametrize("name", ["promoted", "", "Active"])
def test_unknown_statuses_are_refused_with_the_list(name: str) -> None:
    with pytest.raises(LifecycleError, match="expected one of"):
        parse_status(name)
    with pytest.raises(LifecycleError, match="unknown status"):
        check_move("policy p", "candidate", name)
