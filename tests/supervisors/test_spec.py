"""Spec validation: invalid specs fail at construction with actionable messages."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from supervisors import (
    ChildSpec,
    RestartType,
    Strategy,
    SupervisorSpec,
    SupervisorSpecError,
    child_actor_name,
    supervisor_actor_name,
)


def factory(name):
    return name


def test_defaults_and_string_values_are_coerced_to_enums():
    child = ChildSpec("feed", factory, restart="transient")
    spec = SupervisorSpec("root", children=[child], strategy="rest_for_one")
    assert child.restart is RestartType.TRANSIENT
    assert spec.strategy is Strategy.REST_FOR_ONE
    assert spec.children == (child,)
    assert spec.restart is RestartType.PERMANENT


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ChildSpec("a/b", factory), "no '/'"),
        (lambda: ChildSpec("", factory), "child name ''"),
        (lambda: ChildSpec("a", "not callable"), "factory must be a callable"),
        (lambda: ChildSpec("a", factory, restart="sometimes"), "permanent, transient, temporary"),
        (lambda: ChildSpec("a", factory, shutdown_timeout_s=0), "shutdown_timeout_s must be"),
        (lambda: ChildSpec("a", factory, start_timeout_s=float("nan")), "start_timeout_s"),
        (lambda: SupervisorSpec("r", strategy="all_for_one"), "one_for_one, one_for_all"),
        (lambda: SupervisorSpec("r", max_restarts=-1), "max_restarts must be an integer >= 0"),
        (lambda: SupervisorSpec("r", heartbeat_misses=0), "heartbeat_misses must be"),
        (lambda: SupervisorSpec("r", heartbeat_interval_s=-1), "heartbeat_interval_s"),
        (lambda: SupervisorSpec("r", period_s="5"), "period_s must be a number"),
        (lambda: SupervisorSpec("r", children=[object()]), "ChildSpec or a nested"),
        (
            lambda: SupervisorSpec("r", children=[ChildSpec("a", factory)] * 2),
            "two children are named 'a'",
        ),
    ],
)
def test_invalid_specs_are_refused_with_actionable_messages(build, message):
    with pytest.raises(SupervisorSpecError) as caught:
        build()
    assert message in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_specs_are_frozen():
    spec = SupervisorSpec("root")
    with pytest.raises(AttributeError):
        spec.max_restarts = 9  # type: ignore[misc]


def test_actor_names_follow_prefix_path_child():
    assert supervisor_actor_name("evotrader", "root/trading") == "evotrader/root/trading"
    assert child_actor_name("evotrader", "root/trading", "executor") == (
        "evotrader/root/trading/executor"
    )
