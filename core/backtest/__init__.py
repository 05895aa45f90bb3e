"""Vectorised numba backtester: next-bar execution, costs, sizing, stops, funding."""

from core.backtest.engine import run_backtest
from core.backtest.instructions import Instructions, Signals, Targets
from core.backtest.layout import ORDER_COLUMNS, REASON_NAMES, STAT_COLUMNS, TRADE_COLUMNS
from core.backtest.market import MarketArrays
from core.backtest.params import build_params
from core.backtest.result import BacktestResult
from core.backtest.volatility import realized_volatility

__all__ = [
    "ORDER_COLUMNS",
    "REASON_NAMES",
    "STAT_COLUMNS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "Instructions",
    "MarketArrays",
    "Signals",
    "Targets",
    "build_params",
    "realized_volatility",
    "run_backtest",
]
