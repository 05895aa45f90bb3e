"""Risk limits and profiles: an active profile checked against an emergency backstop."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from configs.base import StrictModel


class RiskLimits(StrictModel):
    """Hard limits of one risk profile. Percentages are of current equity; None means 'not set'.

    In an active profile an unset field falls back to the backstop profile's value.
    """

    per_trade_risk_pct: float | None = Field(
        None, gt=0.0, le=100.0, description="Max loss at the stop-loss of one trade, % of equity."
    )
    max_position_pct: float | None = Field(
        None, gt=0.0, le=100.0, description="Max notional of one position (a symbol), % of equity."
    )
    max_gross_exposure_pct: float | None = Field(
        None, gt=0.0, le=1000.0, description="Max sum of |position notional|, % of equity."
    )
    max_open_positions: int | None = Field(
        None, ge=1, le=1000, description="Max number of simultaneously open positions."
    )
    max_trade_pct: float | None = Field(
        None, gt=0.0, le=100.0, description="Max notional of a single order, % of equity."
    )
    daily_drawdown_cut_pct: float | None = Field(
        None, gt=0.0, le=100.0,
        description="Intraday drawdown that cuts new risk until the cooldown ends, %.",
    )
    cooldown_minutes: int | None = Field(
        None, ge=0, le=7 * 24 * 60, description="Cooldown after a daily drawdown cut, minutes."
    )
    daily_loss_halt_pct: float | None = Field(
        None, gt=0.0, le=100.0, description="Loss since the UTC day start that halts trading, %."
    )
    max_drawdown_halt_pct: float | None = Field(
        None, gt=0.0, le=100.0, description="Drawdown from the equity peak that halts trading, %."
    )

    def merged_with(self, backstop: RiskLimits) -> RiskLimits:
        """Return these limits with every unset field taken from ``backstop``."""
        values = {}
        for name in type(self).model_fields:
            mine = getattr(self, name)
            values[name] = getattr(backstop, name) if mine is None else mine
        return RiskLimits(**values)

    def tightest(self, other: RiskLimits) -> RiskLimits:
        """Field by field the tighter of these limits and ``other``'s.

        A set limit is tighter than an unset one, a lower one than a higher one, and a longer
        cooldown than a shorter one.
        """
        values: dict[str, float | int | None] = {}
        for name in type(self).model_fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is None or theirs is None:
                values[name] = theirs if mine is None else mine
            else:
                values[name] = max(mine, theirs) if name == "cooldown_minutes" else min(mine,
                                                                                      theirs)
        return RiskLimits(**values)

    def exceeding(self, backstop: RiskLimits) -> list[str]:
        """Names of the fields set here that are looser than the same field of ``backstop``."""
        loose = []
        for name in type(self).model_fields:
            mine, cap = getattr(self, name), getattr(backstop, name)
            if name == "cooldown_minutes":
                continue  # a longer cooldown is stricter, never looser
            if mine is not None and cap is not None and mine > cap:
                loose.append(name)
        return loose


CONSERVATIVE = RiskLimits(
    per_trade_risk_pct=0.5,
    max_position_pct=10.0,
    max_gross_exposure_pct=50.0,
    daily_drawdown_cut_pct=5.0,
    cooldown_minutes=60,
)
WIDE = RiskLimits(
    max_position_pct=25.0,
    max_open_positions=5,
    max_trade_pct=10.0,
    daily_loss_halt_pct=10.0,
    max_drawdown_halt_pct=40.0,
)


class RiskConfig(StrictModel):
    """Which profile is active and which one acts as the emergency backstop.

    The effective limits are the active profile with unset fields filled from the backstop;
    an active profile looser than the backstop on any field is a configuration error.
    """

    profile: str = Field("conservative", min_length=1, description="Name of the active profile.")
    backstop: str = Field("wide", min_length=1, description="Name of the backstop profile.")
    profiles: dict[str, RiskLimits] = Field(
        default_factory=lambda: {"conservative": CONSERVATIVE, "wide": WIDE},
        description="Named risk profiles.",
    )

    @model_validator(mode="after")
    def _check_profiles(self) -> Self:
        for role in ("profile", "backstop"):
            name = getattr(self, role)
            if name not in self.profiles:
                known = ", ".join(sorted(self.profiles)) or "none"
                raise ValueError(f"{role} {name!r} is not a defined profile (defined: {known})")
        loose = self.profiles[self.profile].exceeding(self.profiles[self.backstop])
        if loose:
            raise ValueError(
                f"profile {self.profile!r} is looser than the backstop {self.backstop!r} on: "
                + ", ".join(loose)
            )
        return self

    def effective(self) -> RiskLimits:
        """The limits in force: the active profile over the backstop."""
        return self.profiles[self.profile].merged_with(self.profiles[self.backstop])
