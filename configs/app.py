"""The whole application configuration: one frozen, strict model made of documented sections."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from configs.backtest import BacktestConfig
from configs.base import StrictModel
from configs.evolution import EvolutionConfig
from configs.governance import GovernanceConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskConfig
from configs.session import SessionConfig

Mode = Literal["sim", "paper", "testnet", "live"]
Timeframe = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ParamValue = int | float | bool | str

_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?$")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AppSection(StrictModel):
    """What runs: the trading mode, the master seed and where run artifacts go."""

    mode: Mode = Field(
        "sim",
        description="sim replays stored bars offline; paper trades live data with simulated "
        "fills; testnet and live send orders to the venue.",
    )
    seed: int = Field(7, ge=0, le=2**32 - 1, description="Master seed; every RNG derives from it.")
    run_dir: str = Field(
        "runs", min_length=1, description="Folder for run artifacts, relative to the working dir."
    )
    name: str = Field(
        "evotrader", pattern=_NAME, description="Run name, used in artifact and actor names."
    )


class DataConfig(StrictModel):
    """Where market data comes from and which series are traded."""

    dir: str = Field(
        "../shared/data",
        min_length=1,
        description="Data folder (holds ohlcv/, funding/, trades/); relative paths are "
        "relative to the current working directory.",
    )
    venue: str = Field(
        "BINANCE", pattern=r"^[A-Z0-9]{1,30}$", description="Venue label of the stored series."
    )
    symbols: list[str] = Field(
        default_factory=lambda: ["BTC/USDT"],
        min_length=1,
        max_length=200,
        description="Traded symbols as BASE/QUOTE (perpetuals BASE/QUOTE:SETTLE).",
    )
    timeframe: Timeframe = Field("1h", description="Bar timeframe.")
    synthetic_fallback: bool = Field(
        True,
        description="Use the seeded synthetic market (labelled as such) when no stored data "
        "exists; never allowed in testnet or live mode.",
    )
    synthetic_bars: int = Field(
        5000, ge=100, le=10_000_000, description="Length of the synthetic series, in bars."
    )

    @field_validator("venue", mode="before")
    @classmethod
    def _upper_venue(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("symbols", mode="before")
    @classmethod
    def _check_symbols(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        symbols = [s.strip().upper() if isinstance(s, str) else s for s in value]
        for symbol in symbols:
            if isinstance(symbol, str) and not _SYMBOL.match(symbol):
                raise ValueError(
                    f"malformed symbol {symbol!r}; expected BASE/QUOTE like 'BTC/USDT'"
                )
        if len(set(map(str, symbols))) != len(symbols):
            raise ValueError("symbols must not repeat")
        return symbols

    def resolve_dir(self, cwd: str | Path | None = None) -> Path:
        """The data folder as an absolute path (relative ``dir`` is taken from ``cwd``).

        Args:
            cwd: Base for a relative ``dir``; defaults to the current working directory.
        """
        path = Path(self.dir).expanduser()
        return path if path.is_absolute() else (Path(cwd) if cwd else Path.cwd()) / path


class StrategyConfig(StrictModel):
    """The active strategy and its parameters."""

    name: str = Field(
        "momentum", pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Registered strategy name."
    )
    params: dict[str, ParamValue] = Field(
        default_factory=lambda: dict[str, ParamValue](fast=20, slow=50),
        max_length=64,
        description="Strategy parameters (numbers, booleans or strings), checked by the strategy.",
    )

    @field_validator("params", mode="before")
    @classmethod
    def _scalar_params(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(item, int | float | bool | str):
                    raise ValueError(
                        f"parameter {key!r} must be a number, boolean or string, "
                        f"got a {type(item).__name__}"
                    )
        return value


class LoggingConfig(StrictModel):
    """Structured logging (structlog). Secrets are redacted from every line."""

    level: LogLevel = Field("INFO", description="Minimum level that is emitted.")
    format: Literal["json", "console"] = Field(
        "console", description="json for machines (production), console for people."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class RayConfig(StrictModel):
    """How to reach (or start) the Ray cluster the actors run on."""

    address: str | None = Field(
        None,
        min_length=1,
        description="Cluster address ('auto', 'ray://host:10001', 'host:6379'); 'local' "
        "always starts a new local Ray; unset joins the cluster `ray start` runs on this "
        "machine, else starts a local one.",
    )
    num_cpus: int | None = Field(
        None, ge=1, le=1024, description="CPUs of a locally started Ray (unset = all)."
    )
    object_store_memory_mb: int | None = Field(
        None, ge=64, le=1_048_576, description="Object store size of a local Ray, MiB."
    )
    dashboard_host: str = Field(
        "127.0.0.1", min_length=1, description="Interface the Ray dashboard listens on."
    )
    namespace: str = Field(
        "evotrader", pattern=_NAME, description="Ray namespace of the named actors."
    )


class ExchangeConfig(StrictModel):
    """The venue reached through ccxt (paper data, testnet and live orders).

    API keys are never configured here: they come from the environment (see ``Secrets``).
    """

    id: str = Field("binance", pattern=r"^[a-z][a-z0-9_]{1,39}$", description="ccxt exchange id.")
    api_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+\S*$",
        description="Override of ccxt's API host (mirrors, local emulators); unset = ccxt's.",
    )
    timeout_ms: int = Field(10_000, ge=100, le=300_000, description="Request timeout, ms.")
    max_retries: int = Field(
        3, ge=0, le=20, description="Retries of a temporary failure (network, 5xx, rate limit)."
    )
    retry_backoff_s: float = Field(
        1.0, ge=0.0, le=300.0, description="First retry delay, s; doubles on each retry."
    )
    reconcile_s: float = Field(
        60.0, gt=0.0, le=86_400.0, description="TESTNET/LIVE: least time between two "
        "reconciliations of the venue's balances, open orders and trades with the book."
    )
    max_order_lag_bars: int = Field(
        0, ge=0, le=1000, description="TESTNET/LIVE: an order is sent only while the venue is "
        "at most this many bars past the bar it was decided for (older: REJECTED "
        "stale_decision, never sent)."
    )
    reconcile_dust_quote: float = Field(
        0.01, ge=0.0, le=1e6, description="Largest quote-balance difference reconciliation "
        "tolerates (rounding dust)."
    )
    paper_fills: Literal["next_open", "order_book"] = Field(
        "next_open", description="PAPER: market orders fill at the next bar's open with the "
        "backtester's slippage model (next_open), or by walking the venue's live order book "
        "read at the decision (order_book, as freqtrade's dry run)."
    )
    paper_book_depth: int = Field(
        100, ge=5, le=5000, description="PAPER with order_book fills: levels read per side."
    )
    reconcile_policy: Literal["halt", "adopt"] = Field(
        "halt", description="TESTNET/LIVE: what a difference between the venue and the book "
        "does. halt: no new order until an operator resolves it (`reconcile --adopt`); adopt: "
        "the venue's trades, balances and open orders are adopted into the book, tagged "
        "external, and trading goes on (an order of ours missing on the venue still halts)."
    )


class StoreConfig(StrictModel):
    """Where hard state lives: trials, lifecycle, checkpoints (and later orders and fills)."""

    backend: Literal["sqlite"] = Field("sqlite", description="Storage backend.")
    path: str = Field("runs/evotrader.sqlite", min_length=1,
                      description="SQLite file; a relative path is relative to the working "
                                  "directory.")


class AppConfig(StrictModel):
    """The complete, validated configuration of one evotrader process.

    Built by ``configs.loader.load_config`` from defaults, ``risk.toml``, a main TOML file and
    ``EVOTRADER_*`` environment overrides. Holds no secrets.
    """

    app: AppSection = Field(default_factory=AppSection, description="Mode, seed, run folder.")
    data: DataConfig = Field(default_factory=DataConfig, description="Market data.")
    guardian: GuardianConfig = Field(
        default_factory=GuardianConfig, description="Risk guardian: order checks, breakers."
    )
    session: SessionConfig = Field(
        default_factory=SessionConfig, description="SIM session: window, pacing, candidates."
    )
    strategy: StrategyConfig = Field(default_factory=StrategyConfig, description="Strategy.")
    backtest: BacktestConfig = Field(
        default_factory=BacktestConfig, description="Costs, sizing, stops, exchange filters."
    )
    risk: RiskConfig = Field(default_factory=RiskConfig, description="Risk profiles.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray cluster.")
    exchange: ExchangeConfig = Field(default_factory=ExchangeConfig, description="Venue access.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="Persistent state.")
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig,
                                       description="Discovery engine.")
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig,
                                         description="Promotion gates, candidates, ledger.")

    @model_validator(mode="after")
    def _check_mode(self) -> Self:
        mode = self.app.mode
        if mode in ("testnet", "live") and self.data.synthetic_fallback:
            raise ValueError(
                f"app.mode {mode!r} needs data.synthetic_fallback = false "
                "(synthetic data never feeds a real venue)"
            )
        if mode != "sim" and self.data.venue != self.exchange.id.upper():
            raise ValueError(
                f"app.mode {mode!r} reads data from exchange.id {self.exchange.id!r}, so "
                f"data.venue must be {self.exchange.id.upper()!r} (got {self.data.venue!r})"
            )
        if mode == "live" and self.risk.profile == self.risk.backstop:
            raise ValueError(
                "app.mode 'live' needs risk.profile to differ from risk.backstop "
                "(the backstop holds emergency limits, not a trading profile)"
            )
        return self

    @model_validator(mode="after")
    def _check_regime_risk(self) -> Self:
        problems = self.governance.regime_risk.problems(self.risk)
        if problems:
            raise ValueError("governance.regime_risk: " + "; ".join(problems))
        return self
