"""Configuration: frozen, strict pydantic models and the TOML profiles shipped beside them.

Load with :func:`load_config` (defaults < ``risk.toml`` < main file < ``EVOTRADER_*``
environment overrides); secrets come only from the environment (:class:`Secrets`).
"""

from configs.app import (
    AppConfig,
    AppSection,
    DataConfig,
    ExchangeConfig,
    LoggingConfig,
    RayConfig,
    StrategyConfig,
)
from configs.backtest import BacktestConfig, CostsConfig, SizingConfig, StopsConfig
from configs.base import StrictModel
from configs.identity import canonical_json, config_id
from configs.loader import (
    DEFAULT_FILE,
    IGNORED_ENV_VARS,
    PACKAGE_DIR,
    RISK_FILE,
    LoadedConfig,
    load_config,
    with_overrides,
)
from configs.risk import CONSERVATIVE, WIDE, RiskConfig, RiskLimits
from configs.secrets import (
    ENV_PREFIX,
    REDACTED,
    SECRET_ENV_VARS,
    Secrets,
    is_secret_key,
    redact_text,
)

__all__ = [
    "CONSERVATIVE",
    "DEFAULT_FILE",
    "ENV_PREFIX",
    "IGNORED_ENV_VARS",
    "PACKAGE_DIR",
    "REDACTED",
    "RISK_FILE",
    "SECRET_ENV_VARS",
    "WIDE",
    "AppConfig",
    "AppSection",
    "BacktestConfig",
    "CostsConfig",
    "DataConfig",
    "ExchangeConfig",
    "LoadedConfig",
    "LoggingConfig",
    "RayConfig",
    "RiskConfig",
    "RiskLimits",
    "Secrets",
    "SizingConfig",
    "StopsConfig",
    "StrategyConfig",
    "StrictModel",
    "canonical_json",
    "config_id",
    "is_secret_key",
    "load_config",
    "redact_text",
    "with_overrides",
]
