"""The candidate roster of a session: who trades which steps, and what it refuses."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.governance.roster import CandidateRoster, RosterChange, read_roster


def test_added_and_removed_candidates_trade_their_steps_only():
    roster = CandidateRoster(("a",)).appended(RosterChange(5, "add", "p-1", spec="{}"))
    roster = roster.appended(RosterChange(9, "remove", "a"))
    assert roster.trading_at(4) == ["a"]
    assert roster.trading_at(5) == ["a", "p-1"]
    assert roster.trading_at(9) == ["p-1"]
    assert roster.membership("a").last == 8 and roster.membership("p-1").first == 5
    assert [m.name for m in roster.added()] == ["p-1"]


def test_a_name_lives_once_and_only_a_trading_candidate_is_removed():
    roster = CandidateRoster(("a",), (RosterChange(3, "remove", "a"),))
    assert "already" in roster.refusal(RosterChange(4, "add", "a", spec="{}"))
    assert "not trading" in roster.refusal(RosterChange(4, "remove", "a"))
    assert "not trading" in roster.refusal(RosterChange(4, "remove", "ghost"))
    with pytest.raises(ConfigError, match="not trading"):
        roster.appended(RosterChange(2, "remove", "b"))


def test_a_freeze_refuses_every_later_addition():
    roster = CandidateRoster((), (RosterChange(6, "freeze", reason="drift"),))
    assert roster.refusal(RosterChange(6, "add", "p-2", spec="{}")).startswith("the roster is")
    assert roster.refusal(RosterChange(3, "add", "p-2", spec="{}")).startswith("the roster is")
    assert roster.frozen() and not CandidateRoster(()).frozen()


def test_the_file_form_round_trips_and_a_torn_last_line_is_ignored():
    change = RosterChange(2, "add", "p-3", spec='{"x": 1}', drift="", reason="r", request="q")
    lines = [change.to_json(), RosterChange(4, "remove", "p-3").to_json(), '{"from_seq": 7, "a']
    roster = read_roster((), lines)
    assert roster.changes[0] == change and roster.membership("p-3").until == 4
    assert roster.by_request("q") == change
    with pytest.raises(ConfigError):
        read_roster((), ['{"torn', change.to_json()])
    with pytest.raises(ConfigError, match="needs its policy"):
        RosterChange(1, "add", "p-4")
