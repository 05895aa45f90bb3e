"""The sentry of the active policy, bar by bar (pure): regime, drift and daily drop.

The risk guardian runs it after each step on the live book's equity and the first symbol's
closes, inside its journaled, snapshotted step, so a restarted guardian derives the same
events. It reports:

* ``regime`` — a transition of the regime state machine
  (:mod:`core.governance.regime`), with the features that caused it (the diary logs them);
* ``drift_alarm`` — a detector of the active policy's drift model
  (:mod:`core.governance.drift`) fired on its live returns against its backtest expectation;
* ``daily_drop`` — the book lost ``daily_drop_pct`` % or more since the UTC day began.

A swap of the active policy (:meth:`Sentry.switch`) starts new detectors for the new policy
(none when it has no drift model) and a new day anchor. Every event carries what a theory
packet needs: the statistic and its threshold, the expected and the live returns, the regime.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.governance.drift import DetectorState, DriftDetectors, DriftModel
from core.governance.regime import RegimeFSM, RegimeFSMState, RegimeRules

DAY_MS = 86_400_000
RECENT_BARS = 240
"""Live returns kept for the events (the window a theory packet shows)."""


@dataclass(frozen=True, slots=True)
class SentryEvent:
    """What the sentry saw at bar ``ts`` (``detail`` holds JSON types only)."""

    kind: str
    ts: int
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SentryState:
    """Everything the sentry remembers (plain values)."""

    policy: str
    model: dict[str, Any] | None
    detectors: DetectorState | None
    regime: RegimeFSMState
    last_equity: float
    day: int
    day_open: float
    alarmed_day: int
    recent: tuple[float, ...]


class Sentry:
    """See the module doc.

    Args:
        policy: The active policy's hash.
        model: Its drift model (None: no drift detection, e.g. a policy without a proof).
        daily_drop_pct: The daily loss that alarms, % of the day's opening equity.
        rules: Regime rules.
        state: A snapshot to continue from.
    """

    def __init__(self, policy: str, model: DriftModel | None, daily_drop_pct: float,
                 rules: RegimeRules | None = None, state: SentryState | None = None) -> None:
        self.daily_drop_pct = daily_drop_pct
        self._rules = rules or RegimeRules()
        if state is None:
            self._policy, self._model = policy, model
            self._detectors = DriftDetectors(model) if model is not None else None
            self._regime = RegimeFSM(self._rules)
            self._last, self._day, self._day_open, self._alarmed_day = math.nan, -1, math.nan, -1
            self._recent: deque[float] = deque(maxlen=RECENT_BARS)
        else:
            self._policy = state.policy
            self._model = DriftModel.from_dict(state.model) if state.model else None
            self._detectors = (DriftDetectors(self._model, state.detectors)
                               if self._model is not None else None)
            self._regime = RegimeFSM.restore(self._rules, state.regime)
            self._last, self._day = state.last_equity, state.day
            self._day_open, self._alarmed_day = state.day_open, state.alarmed_day
            self._recent = deque(state.recent, maxlen=RECENT_BARS)

    @property
    def policy(self) -> str:
        """The policy watched."""
        return self._policy

    @property
    def state(self) -> SentryState:
        """A snapshot."""
        return SentryState(self._policy, self._model.to_dict() if self._model else None,
                           self._detectors.state if self._detectors is not None else None,
                           self._regime.snapshot(), self._last, self._day, self._day_open,
                           self._alarmed_day, tuple(self._recent))

    def switch(self, policy: str, model: DriftModel | None) -> None:
        """Watch ``policy`` from now on: new detectors, a new day anchor, no recent returns."""
        self._policy, self._model = policy, model
        self._detectors = DriftDetectors(model) if model is not None else None
        self._day_open, self._alarmed_day = self._last, -1
        self._recent.clear()

    def observe(self, ts: np.ndarray, equity: np.ndarray, close: np.ndarray
                ) -> list[SentryEvent]:
        """The events of a step's bars (open times, the book's equity and a close per bar)."""
        events: list[SentryEvent] = []
        for t, value, price in zip(ts.tolist(), equity.tolist(), close.tolist(), strict=True):
            reading = self._regime.update(price, t) if math.isfinite(price) and price > 0 \
                else None
            if reading is not None and reading.transition is not None:
                move = reading.transition
                events.append(SentryEvent("regime", t, {
                    "from": move.from_regime, "to": move.to_regime,
                    "confidence": reading.confidence, **_finite(move.features)}))
            day = t // DAY_MS
            if day != self._day:  # the day opens at the last equity before its first bar
                self._day, self._day_open = day, self._last if self._last > 0 else value
            r = value / self._last - 1.0 if self._last > 0 else math.nan
            self._last = value
            if math.isfinite(r):
                self._recent.append(r)
                if self._detectors is not None:
                    for alarm in self._detectors.update(r):
                        events.append(SentryEvent("drift_alarm", t, {
                            "detector": alarm.detector, "statistic": alarm.statistic,
                            "threshold": alarm.threshold, "bars": alarm.bars,
                            **self._context(reading)}))
            events += self._daily(t, value, reading)
        return events

    def _daily(self, t: int, value: float, reading: Any) -> list[SentryEvent]:
        if not (self._day_open > 0) or self._alarmed_day == self._day:
            return []
        drop = (1.0 - value / self._day_open) * 100.0
        if drop < self.daily_drop_pct:
            return []
        self._alarmed_day = self._day
        return [SentryEvent("daily_drop", t, {"drop_pct": drop, "day_open": self._day_open,
                                              "equity": value, "threshold": self.daily_drop_pct,
                                              **self._context(reading)})]

    def _context(self, reading: Any) -> dict[str, Any]:
        recent = np.array(self._recent, dtype=np.float64)
        model = self._model
        return {"policy": self._policy,
                "expected_mean": model.mean if model else None,
                "expected_std": model.std if model else None,
                "false_alarm_bars": model.false_alarm_bars if model else None,
                "detection_delay_bars": _number(model.detection_delay_bars) if model else None,
                "live_mean": float(recent.mean()) if len(recent) else None,
                "live_std": float(recent.std(ddof=1)) if len(recent) > 1 else None,
                "live_returns": [float(x) for x in recent],
                "regime": reading.regime if reading is not None else None,
                "regime_confidence": reading.confidence if reading is not None else None}


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _finite(features: dict[str, float]) -> dict[str, float | None]:
    return {k: _number(float(v)) for k, v in features.items()}
