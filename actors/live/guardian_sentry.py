"""The sentry inside the risk guardian's step (see :mod:`core.governance.sentry`).

The guardian calls :meth:`GuardianSentry.after_step` in the bookkeeping of every step, live or
replayed from its journal, and snapshots :attr:`GuardianSentry.state` with its own state, so a
restarted guardian derives the same events. A swap of the active policy (the session's swap
schedule, :mod:`actors.live.policy_swaps`) switches the sentry to the new policy at the swap's
first step. Regime transitions become diary entries of the live book; alarms become risk
events and go to the session in the step's report, which acts on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.live.policy_swaps import ScheduleFile
from core.governance.drift import DriftModel
from core.governance.sentry import Sentry, SentryEvent, SentryState
from core.trading.choice import StrategyChoice
from core.trading.messages import DiaryEntry, MarketBatch, RiskEvent

if TYPE_CHECKING:  # the trading loop (numba) only where it runs
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
    """

    policy: str
    drift_model: str = ""
    daily_drop_pct: float = 15.0


def _model(text: str) -> DriftModel | None:
    return DriftModel.from_dict(json.loads(text)) if text else None


class GuardianSentry:
    """See the module doc.

    Args:
        state_dir: The session's state folder (its swap schedule).
        spec: The initial policy and settings.
        state: A snapshot to continue from.
    """

    def __init__(self, state_dir: str, spec: SentrySpec, state: SentryState | None = None
                 ) -> None:
        self._schedule = ScheduleFile(state_dir, StrategyChoice("live"))
        self._sentry = Sentry(spec.policy, _model(spec.drift_model), spec.daily_drop_pct,
                              state=state)

    @property
    def state(self) -> SentryState:
        """A snapshot (goes into the guardian's)."""
        return self._sentry.state

    def after_step(self, seq: int, batch: MarketBatch, outcome: StepOutcome
                   ) -> tuple[list[DiaryEntry], list[RiskEvent], tuple[dict[str, Any], ...]]:
        """The step's regime diary entries, alarm events, and alarms for the session."""
        swap = self._schedule.current().starting_at(seq)
        if swap is not None:
            self._sentry.switch(swap.policy.hash, _model(swap.drift))
        events = self._sentry.observe(batch.ts, outcome.equity, batch.close[:, 0])
        diary = [_diary(e, batch.symbols[0]) for e in events if e.kind == "regime"]
        alarms = tuple({"kind": e.kind, "ts": e.ts, "seq": seq, **e.detail}
                       for e in events if e.kind != "regime")
        risk = [RiskEvent(e.ts, "governance", e.kind, _describe(e)) for e in events
                if e.kind != "regime"]
        return diary, risk, alarms


def _diary(event: SentryEvent, symbol: str) -> DiaryEntry:
    detail = event.detail
    features = tuple(sorted((k, float(v)) for k, v in detail.items()
                            if isinstance(v, int | float) and v is not None))
    return DiaryEntry(event.ts, REGIME_ID, "", symbol, features,
                      f"regime {detail['from']} -> {detail['to']}")


def _describe(event: SentryEvent) -> str:
    d = event.detail
    if event.kind == "daily_drop":
        return (f"policy {d['policy']} lost {d['drop_pct']:.2f} % since the day opened "
                f"(threshold {d['threshold']:g} %)")
    return (f"policy {d['policy']}: {d['detector']} {d['statistic']:.3f} > {d['threshold']:.3f} "
            f"after {d['bars']} bars (regime {d['regime']})")
