"""Risk templates chosen by the regime state machine (``[governance.regime_risk]``).

The guardian's regime state machine (``core.governance.regime``) labels every bar of the first
symbol; a regime listed in ``templates`` trades the named risk profile (merged with the
backstop, as ``RiskConfig.effective`` does) from the step after the one whose close it was
read at. Every other regime, and the warm-up (``"unknown"``), trades the session's effective
limits. A template may only tighten: on every field it must equal or be tighter than the
session's effective limits, which :meth:`RegimeRiskConfig.check` verifies when the
configuration loads (the application model calls it, where the risk profiles are visible).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from configs.base import StrictModel
from configs.risk import RiskConfig, RiskLimits

SESSION_TEMPLATE = "session"
"""Name the diary gives the session's own limits (the regimes without a template)."""


def _regimes() -> tuple[str, ...]:
    from core.governance.regime import REGIMES  # pure; imported where needed (layers)

    return REGIMES


class RegimeRiskConfig(StrictModel):
    """Which risk profile each regime of the regime state machine trades.

    Off by default: every regime trades the session's effective limits.
    """

    enabled: bool = Field(
        False, description="Let the regime at a step's close choose the risk limits the "
                           "guardian applies from the next step on.")
    templates: dict[str, str] = Field(
        default_factory=dict, max_length=8,
        description="Regime (trend_up, trend_down, range_calm, range_volatile) -> name of a "
                    "profile of [risk.profiles], merged with the backstop; it must be as "
                    "tight as the session's effective limits or tighter on every field. "
                    "Regimes not listed (and the warm-up) trade the session's limits.")

    @field_validator("templates", mode="before")
    @classmethod
    def _known_regimes(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        regimes = _regimes()
        unknown = [str(k) for k in value if k not in regimes]
        if unknown:
            raise ValueError(
                f"unknown regime(s) {', '.join(map(repr, unknown))}: a template is chosen for "
                f"one of {', '.join(regimes)} (the warm-up, 'unknown', always trades the "
                "session's limits)")
        return value

    def problems(self, risk: RiskConfig) -> list[str]:
        """What is wrong with the templates under ``risk`` (empty: nothing).

        Each template must name a profile of ``risk.profiles`` and, merged with the backstop,
        be no looser than ``risk.effective()`` on any field.
        """
        from core.governance.gates import looser_risk_fields  # pure; imported where needed

        session, backstop = risk.effective(), risk.profiles[risk.backstop]
        found = []
        for regime, profile in sorted(self.templates.items()):
            if profile not in risk.profiles:
                known = ", ".join(sorted(risk.profiles))
                found.append(f"the template of regime {regime!r} names profile {profile!r}, "
                             f"which [risk.profiles] does not define (defined: {known})")
                continue
            limits = risk.profiles[profile].merged_with(backstop)
            loose = looser_risk_fields(limits, session)
            if loose:
                detail = ", ".join(_looser(name, getattr(limits, name), getattr(session, name))
                                   for name in loose)
                found.append(f"the template of regime {regime!r}, profile {profile!r} (over "
                             f"the backstop {risk.backstop!r}), is looser than the session's "
                             f"limits (profile {risk.profile!r}) on {detail} (a regime "
                             f"template may only tighten: set these fields of "
                             f"[risk.profiles.{profile}] to the session's values or tighter, "
                             "or map the regime to another profile)")
        return found

    def resolve(self, risk: RiskConfig) -> tuple[tuple[str, str, RiskLimits], ...]:
        """``(regime, profile, limits)`` of every template in force (none when disabled).

        ``limits`` is the profile merged with the backstop. Call on a validated
        configuration (:meth:`problems` is empty).
        """
        if not self.enabled:
            return ()
        backstop = risk.profiles[risk.backstop]
        return tuple((regime, profile, risk.profiles[profile].merged_with(backstop))
                     for regime, profile in sorted(self.templates.items()))


def _looser(name: str, mine: float | None, session: float | None) -> str:
    if mine is None:
        return f"{name} (unset, the session's is {session:g})"
    relation = "<" if name == "cooldown_minutes" else ">"
    return f"{name} ({mine:g} {relation} the session's {session:g})"
