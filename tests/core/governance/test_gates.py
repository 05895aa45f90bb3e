"""Promotion gates: every gate listed with its value, threshold and verdict, in order."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from configs.governance import GATE_NAMES, GatesConfig
from configs.risk import RiskLimits
from core.governance.gates import (
    Evidence,
    GateResult,
    Measurement,
    check_gates,
    looser_risk_fields,
    refusals,
)

PASSING = {"oos_sharpe": 1.2, "pbo": 0.1, "dsr": 0.99, "fdr_q": 0.01, "paper_days": 30.0,
           "paper_trades": 40.0, "tracking_error": 0.01, "own_denials": 0.0,
           "correlation_to_active": 0.2, "regime_grid": 3.0, "risk_template": 0.0}


def measured(**changes: float | None) -> dict[str, Measurement]:
    values = {**PASSING, **changes}
    return {name: Measurement(value, (Evidence("run", f"r-{name}", "ab"),))
            for name, value in values.items()}


def test_every_gate_is_listed_in_order_and_all_pass_on_good_evidence() -> None:
    results = check_gates(GatesConfig(), measured())
    assert tuple(r.name for r in results) == GATE_NAMES
    assert all(r.passed for r in results) and refusals(results) == []
    by_name = {r.name: r for r in results}
    assert by_name["oos_sharpe"].threshold == ">= 0.5" and by_name["oos_sharpe"].value == 1.2
    assert by_name["pbo"].threshold == "<= 0.5"
    assert by_name["risk_template"].threshold == "no looser field"
    assert by_name["dsr"].evidence == (Evidence("run", "r-dsr", "ab"),)


@pytest.mark.parametrize(("gate", "bad"), [
    ("oos_sharpe", 0.49), ("pbo", 0.51), ("dsr", 0.5), ("fdr_q", 0.2), ("paper_days", 13.9),
    ("paper_trades", 9.0), ("tracking_error", 0.06), ("own_denials", 1.0),
    ("correlation_to_active", 0.71), ("regime_grid", 1.0), ("risk_template", 1.0)])
def test_each_gate_refuses_on_its_side_of_the_threshold(gate: str, bad: float) -> None:
    failed = refusals(check_gates(GatesConfig(), measured(**{gate: bad})))
    assert [r.name for r in failed] == [gate]
    assert failed[0].value == bad


def test_thresholds_are_inclusive() -> None:
    at = measured(oos_sharpe=0.5, pbo=0.5, paper_trades=10.0, correlation_to_active=0.7)
    assert refusals(check_gates(GatesConfig(), at)) == []


def test_what_was_not_measured_fails_with_the_reason() -> None:
    values = measured(pbo=None, dsr=math.nan)
    values["pbo"] = Measurement(None, note="no discovery run: no family to compare")
    del values["regime_grid"]
    failed = {r.name: r for r in refusals(check_gates(GatesConfig(), values))}
    assert set(failed) == {"pbo", "dsr", "regime_grid"}
    assert failed["pbo"].note == "no discovery run: no family to compare"
    assert failed["regime_grid"].note == "not measured" and failed["dsr"].value is None


def test_a_gate_turned_off_passes_and_is_listed_as_off() -> None:
    config = GatesConfig(off=("paper_days", "paper_trades"))
    results = {r.name: r for r in check_gates(config, measured(paper_days=0.0,
                                                               paper_trades=None))}
    assert results["paper_days"].passed and results["paper_days"].threshold == "off"
    assert results["paper_trades"].passed and len(results) == len(GATE_NAMES)


def test_unknown_gate_names_and_out_of_range_thresholds_are_refused() -> None:
    with pytest.raises(ValidationError, match="off"):
        GatesConfig(off=("sharpe",))
    with pytest.raises(ValidationError, match="max_pbo"):
        GatesConfig(max_pbo=1.5)


def test_a_gate_result_survives_its_dict_form() -> None:
    result = check_gates(GatesConfig(), measured())[0]
    assert GateResult.from_dict(result.to_dict()) == result


def test_looser_risk_fields() -> None:
    active = RiskLimits(max_position_pct=10.0, cooldown_minutes=60, daily_loss_halt_pct=5.0)
    assert looser_risk_fields(active, active) == []
    tighter = RiskLimits(max_position_pct=5.0, cooldown_minutes=120, daily_loss_halt_pct=5.0,
                         max_open_positions=3)
    assert looser_risk_fields(tighter, active) == []
    looser = RiskLimits(max_position_pct=20.0, cooldown_minutes=30)
    assert looser_risk_fields(looser, active) == ["max_position_pct", "cooldown_minutes",
                                                  "daily_loss_halt_pct"]
