"""The sentry inside the risk guardian's step (see :mod:`core.governance.sentry`).

The guardian calls :meth:`GuardianSentry.after_step` in the bookkeeping of every step, live or
replayed from its journal, and snapshots :attr:`GuardianSentry.state` with its own state, so a
restarted guardian derives the same events. A swap of the active policy (the session's swap
schedule, :mod:`actors.live.policy_swaps`) switches the sentry to the new policy at the swap's
first step. Regime transitions become diary entries of the live book; alarms become risk
events and go to the session in the step's report, which acts on them.

Risk templates (``[governance.regime_risk]``): the regime at the close of step ``seq``
selects the limits the guardian's risk engine (and, through it, the planner's sizing) applies
from step ``seq + 1`` on: a listed regime's template (no looser than the active policy's),
else the active policy's limits — the session's effective limits, or the tighter template of
a policy swapped in while the session runs, from the swap's first step
(:meth:`GuardianSentry.before_step`).
The regime comes from the sentry's state and the limits in force from the engine's, both in
the guardian's snapshot, so a restarted guardian and a replayed step select the same. Each
change of template is a diary entry (strategy id ``regime``) and a ``governance`` risk event
``risk_template``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.live.policy_swaps import ScheduleFile
from configs.regime_risk import SESSION_TEMPLATE
from configs.risk import RiskLimits
from core.governance.drift import DriftModel
from core.governance.regime import UNKNOWN
from core.governance.sentry import Sentry, SentryEvent, SentryState
from core.trading.choice import StrategyChoice
from core.trading.messages import DiaryEntry, MarketBatch, RiskEvent

if TYPE_CHECKING:  # the trading loop (numba) only where it runs
    from core.trading.risk import RiskEngine
    from core.trading.trader import StepOutcome

REGIME_ID = "regime"
"""Strategy id of the regime state machine's diary entries."""


@dataclass(frozen=True, slots=True)
class SentrySpec:
    """What the guardian's sentry starts with.

    Attributes:
        policy: The active policy's hash.
        drift_model: JSON of its drift model ("" = none).
        daily_drop_pct: The daily loss that alarms, %.
        risk_templates: ``(regime, profile, limits)`` of each regime with a risk template
            (``RegimeRiskConfig.resolve``; empty: the session's limits throughout).
    """

    policy: str
    drift_model: str = ""
    daily_drop_pct: float = 15.0
    risk_templates: tuple[tuple[str, str, RiskLimits], ...] = ()


def _model(text: str) -> DriftModel | None:
    return DriftModel.from_dict(json.loads(text)) if text else None


class GuardianSentry:
    """See the module doc.

    Args:
        state_dir: The session's state folder (its swap schedule).
        spec: The initial policy and settings.
        state: A snapshot to continue from.
        limits: The session's effective limits (what regimes without a template trade).
    """

    def __init__(self, state_dir: str, spec: SentrySpec, state: SentryState | None = None,
                 limits: RiskLimits | None = None) -> None:
        self._schedule = ScheduleFile(state_dir, StrategyChoice("live"))
        self._sentry = Sentry(spec.policy, _model(spec.drift_model), spec.daily_drop_pct,
                              state=state)
        self._regime = state.regime.regime if state is not None else UNKNOWN
        self._templates = {regime: (profile, risk) for regime, profile, risk
                           in spec.risk_templates}
        if self._templates and limits is None:
            raise ValueError("risk templates need the session's limits")
        self._limits = limits

    @property
    def state(self) -> SentryState:
        """A snapshot (goes into the guardian's)."""
        return self._sentry.state

    def after_step(self, seq: int, batch: MarketBatch, outcome: StepOutcome,
                   gate: RiskEngine | None = None
                   ) -> tuple[list[DiaryEntry], list[RiskEvent], tuple[dict[str, Any], ...]]:
        """The step's regime diary entries, alarm events, and alarms for the session.

        With risk templates, ``gate`` (the guardian's risk engine) is switched to the
        template of the regime at the step's close; a change of template adds a diary entry
        and a risk event.
        """
        swap = self._schedule.current().starting_at(seq)
        if swap is not None:  # a policy at a fraction of its size returns that fraction
            model = _model(swap.drift)
            if model is not None and swap.size_scale != 1.0:
                model = dataclasses.replace(model, mean=model.mean * swap.size_scale,
                                            std=model.std * swap.size_scale)
            self._sentry.switch(swap.policy.hash, model)
        before = self._regime
        events = self._sentry.observe(batch.ts, outcome.equity, batch.close[:, 0])
        diary = [_diary(e, batch.symbols[0]) for e in events if e.kind == "regime"]
        alarms = tuple({"kind": e.kind, "ts": e.ts, "seq": seq, **e.detail}
                       for e in events if e.kind != "regime")
        risk = [RiskEvent(e.ts, "governance", e.kind, _describe(e)) for e in events
                if e.kind != "regime"]
        for e in events:
            if e.kind == "regime":
                self._regime = str(e.detail["to"])
        if self._templates and gate is not None:
            switched = self._select(seq, int(batch.ts[-1]), batch.symbols[0], before, gate)
            if switched is not None:
                diary.append(switched[0])
                risk.append(switched[1])
        return diary, risk, alarms

    def before_step(self, seq: int, ts: int, gate: RiskEngine) -> list[RiskEvent]:
        """At a swap's first step, trade the swapped-in policy's limits (a risk event)."""
        swap = self._schedule.current().starting_at(seq)
        if swap is None or self._limits is None:
            return []
        name, limits = self.template(self._regime, seq)
        previous = gate.limits
        if not gate.switch_limits(limits):
            return []
        return [RiskEvent(ts, "governance", "risk_template",
                          f"policy swap to {swap.policy.hash} at step {seq}: risk template "
                          f"{name} ({_changes(previous, limits)})", state=gate.state)]

    def template(self, regime: str, seq: int = 0) -> tuple[str, RiskLimits]:
        """The template ``regime`` trades at step ``seq``: ``(name, limits)``.

        The active policy's limits (``"session"``, or ``policy <hash>`` for a swapped-in
        policy with a tighter template), tightened by the regime's template if it has one.
        """
        assert self._limits is not None
        swap = self._schedule.current().swap_at(seq)
        base, base_name = self._limits, SESSION_TEMPLATE
        if swap is not None and swap.policy.risk != self._limits:
            base, base_name = swap.policy.risk, f"policy {swap.policy.hash}"
        found = self._templates.get(regime)
        if found is not None:
            return found[0], found[1].tightest(base)
        return base_name, base

    def _select(self, seq: int, ts: int, symbol: str, before: str, gate: RiskEngine
                ) -> tuple[DiaryEntry, RiskEvent] | None:
        """Switch ``gate`` to the template of the regime at the close of step ``seq``."""
        name, limits = self.template(self._regime, seq)
        previous = gate.limits
        if not gate.switch_limits(limits) and name == self.template(before, seq)[0]:
            return None
        features = tuple(sorted((k, float(v)) for k, v in limits.model_dump().items()
                                if v is not None))
        entry = DiaryEntry(ts, REGIME_ID, "", symbol, features,
                           f"risk template {name} (regime {self._regime})")
        event = RiskEvent(ts, "governance", "risk_template",
                          f"regime {self._regime} at the close of step {seq}: risk template "
                          f"{name} from step {seq + 1} ({_changes(previous, limits)})",
                          state=gate.state)
        return entry, event


def _changes(previous: RiskLimits, limits: RiskLimits) -> str:
    return ", ".join(f"{k} {_limit(getattr(previous, k))} -> {_limit(getattr(limits, k))}"
                     for k in type(limits).model_fields
                     if getattr(previous, k) != getattr(limits, k)) or "no limit changes"


def _diary(event: SentryEvent, symbol: str) -> DiaryEntry:
    detail = event.detail
    features = tuple(sorted((k, float(v)) for k, v in detail.items()
                            if isinstance(v, int | float) and v is not None))
    return DiaryEntry(event.ts, REGIME_ID, "", symbol, features,
                      f"regime {detail['from']} -> {detail['to']}")


def _limit(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"


def _describe(event: SentryEvent) -> str:
    d = event.detail
    if event.kind == "daily_drop":
        return (f"policy {d['policy']} lost {d['drop_pct']:.2f} % since the day opened "
                f"(threshold {d['threshold']:g} %)")
    return (f"policy {d['policy']}: {d['detector']} {d['statistic']:.3f} > {d['threshold']:.3f} "
            f"after {d['bars']} bars (regime {d['regime']})")
