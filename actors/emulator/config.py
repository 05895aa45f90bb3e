"""The emulator's configuration: market data, trading rules, costs, account, limits, faults.

Frozen and strict like every project config (``configs.base.StrictModel``). Costs are the
backtester's own :class:`~configs.backtest.CostsConfig`, so fills use the same fee and
slippage parameters as a backtest of the same config.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from actors.emulator.faults import FaultRule
from configs.backtest import CostsConfig
from configs.base import StrictModel
from core.data.timeframes import TIMEFRAME_MS

DEFAULT_API_KEY = "evotrader-emulator-test-key"
"""The test API key the emulator accepts unless told otherwise (not a secret)."""
DEFAULT_API_SECRET = "evotrader-emulator-test-secret"
"""The test API secret the emulator signs with unless told otherwise (not a secret)."""


class MarketSpec(StrictModel):
    """One market's trading rules, served as its exchangeInfo filters (BTC/USDT-like defaults)."""

    tick_size: Decimal = Field(Decimal("0.01"), gt=0, description="PRICE_FILTER tickSize.")
    min_price: Decimal = Field(Decimal("0.01"), gt=0, description="PRICE_FILTER minPrice.")
    max_price: Decimal = Field(Decimal("1000000"), gt=0, description="PRICE_FILTER maxPrice.")
    step_size: Decimal = Field(Decimal("0.00001"), gt=0, description="LOT_SIZE stepSize.")
    min_qty: Decimal = Field(Decimal("0.00001"), gt=0, description="LOT_SIZE minQty.")
    max_qty: Decimal = Field(Decimal("9000"), gt=0, description="LOT_SIZE maxQty.")
    market_max_qty: Decimal = Field(Decimal("9000"), gt=0,
                                    description="MARKET_LOT_SIZE maxQty (market orders).")
    min_notional: Decimal = Field(Decimal("5"), ge=0, description="Smallest price * qty.")
    max_notional: Decimal = Field(Decimal("9000000"), gt=0, description="Largest price * qty.")
    notional_filter: Literal["NOTIONAL", "MIN_NOTIONAL"] = Field(
        "NOTIONAL", description="Which notional filter exchangeInfo lists (Binance moved from "
                                "MIN_NOTIONAL to NOTIONAL in 2023).")
    max_num_orders: int = Field(200, ge=1, le=1_000_000,
                                description="MAX_NUM_ORDERS: open orders per symbol.")
    max_num_algo_orders: int = Field(5, ge=1, le=1_000_000,
                                     description="MAX_NUM_ALGO_ORDERS: open stop orders.")


class RateLimits(StrictModel):
    """Binance's limits (defaults as Binance spot publishes them)."""

    weight_per_minute: int = Field(6000, ge=1, description="REQUEST_WEIGHT per minute.")
    orders_per_10s: int = Field(100, ge=1, description="ORDERS per 10 seconds.")
    orders_per_day: int = Field(200_000, ge=1, description="ORDERS per day.")
    ban_s: float = Field(120.0, gt=0, le=3 * 86_400.0,
                         description="IP ban after requests continue past a 429, seconds.")


class EmulatorConfig(StrictModel):
    """Everything the emulator needs: where its candles come from, rules, account, limits."""

    data_dir: Path | None = Field(None, description="Candle source: a Parquet store (like "
                                  "../shared/data), a freqtrade folder or a CSV file.")
    data_venue: str = Field("BINANCE", pattern=r"^[A-Z0-9]{1,30}$",
                            description="Venue token of the stored series to replay.")
    symbols: tuple[str, ...] = Field((), description="ccxt symbols to list, e.g. BTC/USDT.")
    timeframe: str = Field("1m", description="Bar length served as the only kline interval.")
    start_ms: int | None = Field(None, ge=0, description="Venue time at start, epoch ms; "
                                 "None = after warmup_bars bars of history.")
    warmup_bars: int = Field(1000, ge=0, description="Closed bars before the default start.")
    speed: float = Field(0.0, ge=0.0, le=1e7, description="0 = manual clock, else venue ms "
                                                          "per wall ms.")
    seed: int = Field(0, description="Seed of random faults and generated ids.")
    balances: dict[str, float] = Field(default_factory=lambda: {"USDT": 10_000.0},
                                       description="Free balance per asset at start.")
    api_key: str = Field(DEFAULT_API_KEY, min_length=1, repr=False)
    api_secret: str = Field(DEFAULT_API_SECRET, min_length=1, repr=False)
    timestamp_check: Literal["venue", "wall", "off"] = Field(
        "venue", description="What a signed request's timestamp is checked against.")
    costs: CostsConfig = Field(default_factory=CostsConfig, description="Fees and slippage.")
    buy_fee_in_base: bool = Field(False, description="Charge buy commissions in the base "
                                  "asset (Binance's default) instead of the quote asset.")
    markets: dict[str, MarketSpec] = Field(default_factory=dict,
                                           description="Rules per ccxt symbol (else defaults).")
    rate_limits: RateLimits = Field(default_factory=RateLimits, description="Limits.")
    serve_forming: bool = Field(False, description="Also serve the forming bar in klines "
                                "(real Binance does; the issue asks for closed bars only).")
    max_participation: float | None = Field(
        None, gt=0.0, le=1.0, description="Largest share of a bar's volume one order fills "
                                          "per bar; the rest waits for the next bar.")
    depth_level_share: float = Field(0.01, gt=0.0, le=1.0,
                                     description="Volume share of each synthetic book level.")
    faults: tuple[FaultRule, ...] = Field((), description="Fault rules active from start.")

    @field_validator("timeframe")
    @classmethod
    def _known_timeframe(cls, value: str) -> str:
        if value not in TIMEFRAME_MS:
            raise ValueError(f"unknown timeframe {value!r}; supported: {', '.join(TIMEFRAME_MS)}")
        return value

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [asset for asset, amount in value.items() if not amount >= 0.0]
        if bad:
            raise ValueError(f"balances must be >= 0: {', '.join(bad)}")
        return {asset.upper(): float(amount) for asset, amount in value.items()}

    def spec(self, symbol: str) -> MarketSpec:
        """The rules of ``symbol`` (defaults when not configured)."""
        return self.markets.get(symbol, MarketSpec())
