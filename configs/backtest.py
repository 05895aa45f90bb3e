"""Backtest configuration: costs, sizing, stops, exchange filters and direction."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from configs.base import StrictModel


class CostsConfig(StrictModel):
    """Trading costs: market orders pay taker fee + slippage, take-profit limits the maker fee.

    Slippage as a fraction of price = half-spread + impact, where
    impact = ``impact_coef * (order_qty / bar_volume) ** impact_exponent`` (capped).
    """

    maker_fee_bps: float = Field(10.0, ge=0.0, le=1000.0, description="Maker fee, bps of notional.")
    taker_fee_bps: float = Field(10.0, ge=0.0, le=1000.0, description="Taker fee, bps of notional.")
    half_spread_bps: float = Field(
        5.0, ge=0.0, le=1000.0, description="Half-spread in bps, used when the data has no spread."
    )
    impact_coef: float = Field(
        0.0, ge=0.0, le=10.0, description="Impact at 100% participation of the bar's volume."
    )
    impact_exponent: float = Field(
        0.5, gt=0.0, le=2.0, description="Exponent of participation (0.5 = square-root law)."
    )
    max_slippage_bps: float = Field(
        500.0, ge=0.0, le=10_000.0, description="Cap on total slippage per fill, bps."
    )


class SizingConfig(StrictModel):
    """How a target of 1.0 turns into a position notional."""

    method: Literal["fixed_fraction", "vol_target", "fixed_notional"] = Field(
        "fixed_fraction", description="Sizing rule."
    )
    fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="fixed_fraction: share of equity per unit of target."
    )
    vol_target_annual: float = Field(
        0.5, gt=0.0, le=5.0, description="vol_target: annualised volatility aimed for."
    )
    vol_lookback_bars: int = Field(
        168, ge=2, le=1_000_000, description="vol_target: bars in the realised-volatility window."
    )
    max_leverage: float = Field(
        1.0, gt=0.0, le=10.0, description="vol_target: cap on notional / equity."
    )
    notional: float = Field(
        1000.0, gt=0.0, le=1e12, description="fixed_notional: quote notional per unit of target."
    )


class StopsConfig(StrictModel):
    """Exit rules checked intrabar (stop-loss before take-profit: the conservative order)."""

    stop_loss_pct: float | None = Field(
        None, gt=0.0, lt=100.0, description="Stop-loss distance from the entry price, %."
    )
    take_profit_pct: float | None = Field(
        None, gt=0.0, le=10_000.0, description="Take-profit distance from the entry price, %."
    )
    time_stop_bars: int | None = Field(
        None, ge=1, le=10_000_000, description="Close a position after this many bars."
    )


class BacktestConfig(StrictModel):
    """Everything the backtester needs besides data and targets."""

    initial_cash: float = Field(10_000.0, gt=0.0, le=1e15, description="Starting quote cash.")
    direction: Literal["long_only", "long_short"] = Field(
        "long_only", description="long_only clips negative targets to flat."
    )
    costs: CostsConfig = Field(default_factory=CostsConfig, description="Fees and slippage.")
    sizing: SizingConfig = Field(default_factory=SizingConfig, description="Position sizing.")
    stops: StopsConfig = Field(default_factory=StopsConfig, description="Exit rules.")
    min_notional: float = Field(
        10.0, ge=0.0, le=1e9, description="Smallest order notional the venue accepts (quote)."
    )
    lot_size: float = Field(
        0.0, ge=0.0, le=1e9, description="Quantity step; orders are rounded down (0 = none)."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.min_notional >= self.initial_cash:
            raise ValueError("min_notional must be below initial_cash")
        return self
