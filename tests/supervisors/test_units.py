"""Pure pieces of supervision: intensity window, strategy scopes, restart rules, event log."""

from __future__ import annotations

import pytest
from ray.exceptions import ActorDiedError, ActorUnavailableError

from supervisors import (
    EventKind,
    EventLog,
    Outcome,
    RestartIntensity,
    RestartType,
    Strategy,
    SupervisorEscalatedError,
    SupervisorEvent,
    restart_scope,
    should_restart,
)
from supervisors.health import classify_answer, classify_failure


def test_intensity_allows_max_restarts_within_the_window_then_refuses():
    window = RestartIntensity(max_restarts=2, period_s=10.0)
    assert window.record(0.0) and window.record(1.0)
    assert not window.record(2.0)
    assert window.count(10.5) == 2  # the restart at t=0 left the window
    assert window.record(11.5)  # 1.0 left the window: 2.0 and 11.5 remain
    assert not window.record(11.6)
    assert window.count(30.0) == 0 and window.record(30.0)


def test_zero_intensity_escalates_on_the_first_restart():
    assert not RestartIntensity(0, 5.0).record(0.0)


@pytest.mark.parametrize(
    ("strategy", "failed", "expected"),
    [
        (Strategy.ONE_FOR_ONE, 1, [1]),
        (Strategy.ONE_FOR_ALL, 1, [0, 1, 2, 3]),
        (Strategy.REST_FOR_ONE, 1, [1, 2, 3]),
        (Strategy.REST_FOR_ONE, 3, [3]),
    ],
)
def test_restart_scope(strategy, failed, expected):
    assert list(restart_scope(strategy, 4, failed)) == expected


def test_restart_scope_rejects_a_bad_index():
    with pytest.raises(IndexError):
        restart_scope(Strategy.ONE_FOR_ONE, 2, 2)


@pytest.mark.parametrize(
    ("restart", "normal", "expected"),
    [
        (RestartType.PERMANENT, True, True),
        (RestartType.PERMANENT, False, True),
        (RestartType.TRANSIENT, True, False),
        (RestartType.TRANSIENT, False, True),
        (RestartType.TEMPORARY, True, False),
        (RestartType.TEMPORARY, False, False),
    ],
)
def test_should_restart(restart, normal, expected):
    assert should_restart(restart, normal) is expected


def test_event_log_is_bounded_and_sequenced():
    log = EventLog(max_events=3)
    for i in range(5):
        stored = log.append(SupervisorEvent(0, float(i), "root", "a", EventKind.STARTED, "", 0))
        assert stored.seq == i + 1
    assert [e.seq for e in log.since(0)] == [3, 4, 5]
    assert [e.seq for e in log.since(4)] == [5]
    assert log.last_seq == 5


def test_ping_failures_are_classified():
    assert classify_answer("done").outcome is Outcome.EXITED
    assert classify_answer({"ok": 1}).outcome is Outcome.ALIVE
    assert classify_failure(ActorDiedError()).outcome is Outcome.DIED
    assert classify_failure(ActorUnavailableError("x", None)).outcome is Outcome.MISSED
    assert classify_failure(RuntimeError("boom")).outcome is Outcome.MISSED
    escalated = classify_failure(SupervisorEscalatedError("supervisor 'root/x' escalated"))
    assert escalated.outcome is Outcome.DIED and "escalated" in escalated.detail
