"""Configuration of governance: the promotion gates, the candidate slots, the policy ledger."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from configs.base import StrictModel
from configs.regime_risk import RegimeRiskConfig

GateName = Literal["oos_sharpe", "pbo", "dsr", "fdr_q", "paper_days", "paper_trades",
                   "tracking_error", "own_denials", "correlation_to_active", "regime_grid",
                   "risk_template"]
GATE_NAMES: tuple[str, ...] = GateName.__args__
AlarmAction = Literal["alert", "freeze_candidates", "halve_size", "rollback", "demote"]
"""Every gate, in the order checks list them."""


class GatesConfig(StrictModel):
    """What a policy must show before it is promoted, gate by gate (see ``GATE_NAMES``).

    A gate named in ``off`` is not checked; it is still listed, as off, in every check and
    ledger entry.
    """

    min_oos_sharpe: float = Field(
        0.5, ge=-10.0, le=100.0,
        description="Smallest annualised out-of-sample Sharpe of the discovery's walk-forward.")
    max_pbo: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Largest probability of backtest overfitting (CSCV over the run's best "
                    "trials).")
    min_dsr: float = Field(
        0.95, ge=0.0, le=1.0,
        description="Smallest deflated Sharpe ratio, deflated by every trial of the layer in "
                    "the registry.")
    max_fdr_q: float = Field(
        0.05, gt=0.0, le=1.0,
        description="Largest Benjamini-Hochberg q-value over every trial of the layer.")
    min_paper_days: float = Field(
        14.0, ge=0.0, le=3650.0,
        description="Least market time paper-traded as a candidate, days.")
    min_paper_trades: int = Field(
        10, ge=0, le=1_000_000, description="Fewest paper fills as a candidate.")
    max_tracking_error: float = Field(
        0.05, ge=0.0, le=100.0,
        description="Largest annualised tracking error of paper returns against the backtest "
                    "of the same policy on the same bars.")
    max_own_denials: int = Field(
        0, ge=0, le=1_000_000,
        description="Most risk denials of the candidate's own orders while paper-trading.")
    max_correlation_to_active: float = Field(
        0.7, ge=-1.0, le=1.0,
        description="Largest correlation of the candidate's paper returns to the active "
                    "strategy's on the same bars.")
    min_positive_regimes: int = Field(
        2, ge=0, le=4,
        description="Regimes (of the 4 of the regime state machine) in which the policy's "
                    "out-of-sample returns must have a positive Sharpe.")
    off: tuple[GateName, ...] = Field(
        (), description="Gates not checked (listed as off), e.g. [\"paper_days\"].")


class DriftConfig(StrictModel):
    """The drift sentry of the active policy and the automatic rollback."""

    enabled: bool = Field(True, description="Watch the active policy's live returns against "
                                            "its backtest expectation.")
    false_alarm_days: float = Field(
        90.0, gt=0.0, le=3650.0,
        description="About one false alarm per this many days of a policy that did not drift "
                    "(the detectors' thresholds are calibrated by bootstrap to it).")
    ph_delta: float = Field(0.05, ge=0.0, le=5.0,
                            description="Page-Hinkley tolerance, in standard deviations.")
    cusum_k: float = Field(0.25, ge=0.0, le=5.0,
                           description="CUSUM reference value, in standard deviations.")
    bootstrap_paths: int = Field(200, ge=10, le=10_000,
                                 description="Bootstrap paths of the calibration.")
    block_bars: int = Field(24, ge=1, le=10_000,
                            description="Block length of the moving-block bootstrap, bars.")
    shift_sd: float = Field(0.5, gt=0.0, le=10.0,
                            description="Decay (in standard deviations) whose detection delay "
                                        "the calibration reports.")
    daily_drop_pct: float = Field(15.0, gt=0.0, le=100.0,
                                  description="A daily loss of the active policy that alarms, %.")
    on_alarm: tuple[AlarmAction, ...] = Field(
        ("rollback",),
        description="What an alarm does, any of: alert (record the theory packet only), "
                    "freeze_candidates (no candidate joins the session from then on), "
                    "halve_size (the active slot trades half its size from the next step, "
                    "again at each alarm, until the next promotion), rollback (restore the "
                    "previous policy through the same hot swap, with a ledger entry; the "
                    "left policy is retired) or demote (the same, but the left policy stays "
                    "a candidate and paper-trades on). A packet is always written.")

    @field_validator("on_alarm", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_restore(self) -> Self:
        if {"rollback", "demote"} <= set(self.on_alarm):
            raise ValueError("on_alarm: choose rollback (the left policy is retired) or demote "
                             "(it stays a candidate), not both")
        return self


class AutoCandidatesConfig(StrictModel):
    """Which validated survivors of a discovery run become candidates by themselves."""

    enabled: bool = Field(True, description="scripts/evolve.py adds them at the end of a run "
                                            "(promote.py candidate auto does it on demand).")
    count: int = Field(3, ge=0, le=32, description="At most this many per run.")
    min_dsr: float = Field(0.95, ge=0.0, le=1.0,
                           description="Smallest deflated Sharpe ratio over every trial of "
                                       "the layer.")
    max_correlation_to_active: float = Field(
        0.7, ge=-1.0, le=1.0, description="Largest correlation of its backtest returns to the "
                                          "active policy's on the run's window.")
    max_correlation_to_each_other: float = Field(
        0.7, ge=-1.0, le=1.0, description="Largest correlation to a candidate chosen before it.")


class GovernanceConfig(StrictModel):
    """Promotion: gates, candidates and what the sessions take from the policy ledger."""

    gates: GatesConfig = Field(default_factory=GatesConfig, description="Promotion gates.")
    drift: DriftConfig = Field(default_factory=DriftConfig,
                               description="Drift sentry and automatic rollback.")
    regime_risk: RegimeRiskConfig = Field(
        default_factory=RegimeRiskConfig,
        description="Risk templates chosen by the regime state machine (off by default).")
    auto_candidates: AutoCandidatesConfig = Field(
        default_factory=AutoCandidatesConfig,
        description="The rule that makes discovery's survivors candidates.")
    candidate_slots: int = Field(
        3, ge=0, le=32, description="Candidates from the ledger paper-traded per session.")
    use_ledger: bool = Field(
        True, description="A session trades the ledger's active policy (when there is one) "
                          "and paper-trades its candidates, instead of [strategy] and "
                          "[session] candidates.")
    demoted: Literal["candidate", "retire"] = Field(
        "candidate", description="What a promotion does with the policy it replaces: keep it "
                                 "as a candidate (paper-traded by the next sessions, ready for "
                                 "a rollback) or retire it. A rollback always retires the "
                                 "policy it rolls back from.")
    swap_positions: Literal["keep", "flatten"] = Field(
        "keep", description="What a promotion or rollback in a running session does with the "
                            "open positions: keep them (and their stops) for the new policy, "
                            "or flatten them at the swap's first bar.")
    pbo_family: int = Field(
        16, ge=2, le=256,
        description="Best trials of the policy's discovery run whose returns the PBO "
                    "gate's CSCV compares.")
    pbo_blocks: int = Field(8, ge=2, le=16, description="CSCV row blocks (even).")
    active_policy: str | None = Field(
        None, min_length=2, max_length=200_000,
        description="Set by a session from the ledger, not by hand: the canonical JSON of the "
                    "promoted policy it trades (recorded so that resume trades the same).")
    candidate_policies: tuple[str, ...] = Field(
        (), max_length=32,
        description="Set by a session from the ledger, not by hand: the canonical JSON of "
                    "each candidate policy it paper-trades.")

    @model_validator(mode="after")
    def _even_blocks(self) -> Self:
        if self.pbo_blocks % 2:
            raise ValueError(f"pbo_blocks must be even (CSCV halves), got {self.pbo_blocks}")
        return self
