"""Configuration: frozen, strict pydantic models and the TOML profiles shipped beside them.

Load with :func:`load_config` (defaults < ``risk.toml`` < main file < ``EVOTRADER_*``
environment overrides); secrets come only from the environment (:class:`Secrets`).

The names below are imported on first use (PEP 562): a process that needs one model (an
actor unpickling its settings) does not build every model and the loader.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "AppConfig": "app",
    "AppSection": "app",
    "DataConfig": "app",
    "ExchangeConfig": "app",
    "LoggingConfig": "app",
    "RayConfig": "app",
    "StrategyConfig": "app",
    "BacktestConfig": "backtest",
    "CostsConfig": "backtest",
    "SizingConfig": "backtest",
    "StopsConfig": "backtest",
    "StrictModel": "base",
    "canonical_json": "identity",
    "config_id": "identity",
    "DEFAULT_FILE": "loader",
    "IGNORED_ENV_VARS": "loader",
    "PACKAGE_DIR": "loader",
    "RISK_FILE": "loader",
    "LoadedConfig": "loader",
    "load_config": "loader",
    "with_overrides": "loader",
    "CONSERVATIVE": "risk",
    "WIDE": "risk",
    "RiskConfig": "risk",
    "RiskLimits": "risk",
    "ENV_PREFIX": "secrets",
    "REDACTED": "secrets",
    "SECRET_ENV_VARS": "secrets",
    "Secrets": "secrets",
    "is_secret_key": "secrets",
    "redact_text": "secrets",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
