"""The risk guardian's own settings: order sanity checks and circuit breakers.

The percentage limits of positions and exposure, the daily loss halt and the drawdown halt
come from the active risk profile (:class:`configs.risk.RiskLimits`); this section holds what
a risk profile does not: the price band, notional floor and cap, the reject breaker, the
staleness threshold, the drawdown stages and the kill-switch file.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from configs.base import StrictModel

StageState = Literal["REDUCING", "HALTED"]
"""Trading state a drawdown stage switches to (names of ``core.trading.TradingState``)."""

DrawdownStage = tuple[float, StageState]
"""One drawdown stage: ``(drawdown from the equity peak in %, state entered)``."""


class GuardianConfig(StrictModel):
    """Order sanity checks and circuit breakers of the risk guardian.

    Drawdown stages are ``(percent, state)`` pairs in increasing order of percent, e.g.
    ``[[10.0, "REDUCING"], [20.0, "HALTED"]]``: from a 10 % drawdown off the equity peak
    only exposure-reducing orders pass, from 20 % nothing does. A ``HALTED`` stage must be the
    last one. The risk profile's ``max_drawdown_halt_pct`` always applies as well.
    """

    price_band_pct: float = Field(
        5.0, gt=0.0, le=100.0,
        description="Max distance of an order's reference price from the last price, % of "
                    "the last price (fat-finger and stale-quote guard).",
    )
    min_notional: float = Field(
        10.0, ge=0.0, le=1e9,
        description="Smallest quote notional of an exposure-increasing order; smaller orders "
                    "are denied (venue minimums). Reduce-only orders are exempt.",
    )
    notional_cap: float = Field(
        100_000.0, gt=0.0, le=1e12,
        description="Largest quote notional of a single exposure-increasing order, whatever "
                    "the equity (absolute fat-finger cap).",
    )
    max_consecutive_rejects: int = Field(
        5, ge=1, le=1000,
        description="Venue rejects in a row (no fill between them) that halt trading.",
    )
    stale_data_bars: int = Field(
        3, ge=1, le=10_000,
        description="A symbol whose newest bar is older than this many bar lengths past its "
                    "expected close is stale: its orders are denied until fresh data arrives.",
    )
    drawdown_stages: tuple[DrawdownStage, ...] = Field(
        ((10.0, "REDUCING"), (20.0, "HALTED")),
        max_length=10,
        description="(drawdown %, state) pairs in increasing order of drawdown: REDUCING lets "
                    "only exposure-reducing orders through, HALTED (latched) nothing.",
    )
    daily_loss_resets_next_day: bool = Field(
        True,
        description="Lift a daily-loss halt at the first bar of the next UTC day; false keeps "
                    "it latched for the session like the other halts.",
    )
    kill_switch_file: str | None = Field(
        "runs/KILL", min_length=1,
        description="File whose existence engages the kill switch (checked by the guardian "
                    "actor); unset disables the file trigger (API and signal remain).",
    )

    @field_validator("drawdown_stages", mode="before")
    @classmethod
    def _upper_states(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return [
            (item[0], item[1].strip().upper())
            if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[1], str)
            else item
            for item in value
        ]

    @model_validator(mode="after")
    def _check_stages(self) -> Self:
        previous = 0.0
        for index, (pct, state) in enumerate(self.drawdown_stages):
            where = f"drawdown_stages[{index}]"
            if not 0.0 < pct <= 100.0:
                raise ValueError(f"{where}: drawdown must be in (0, 100] %, got {pct}")
            if pct <= previous:
                raise ValueError(
                    f"{where}: drawdowns must increase, got {pct} after {previous} "
                    "(write the stages in increasing order, e.g. [[10, \"REDUCING\"], "
                    "[20, \"HALTED\"]])"
                )
            if state == "HALTED" and index != len(self.drawdown_stages) - 1:
                raise ValueError(
                    f"{where}: a HALTED stage must be the last one (nothing follows a halt)"
                )
            previous = pct
        return self

    def reducing_pct(self) -> float | None:
        """Smallest drawdown of a REDUCING stage, %, or None without one."""
        levels = [pct for pct, state in self.drawdown_stages if state == "REDUCING"]
        return min(levels) if levels else None

    def halted_pct(self) -> float | None:
        """Drawdown of the HALTED stage, %, or None without one."""
        levels = [pct for pct, state in self.drawdown_stages if state == "HALTED"]
        return min(levels) if levels else None
