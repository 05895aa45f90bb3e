"""A local Binance spot exchange emulator for tests, demos and benchmarks.

It replays stored candles as the venue's market on a venue clock (manual or paced), speaks
the Binance spot REST subset ccxt 4.5.90 uses (exchangeInfo, time, klines, depth, tickers,
account, orders, open orders, history, trades, OCO lists) with Binance's formats, filters,
signatures, error codes and rate limits, matches orders with the backtester's fee and
slippage model, and injects seeded faults. Run it with ``python -m actors.emulator`` or
start it from Python with :class:`EmulatorServer`.
"""

from actors.emulator.config import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    EmulatorConfig,
    MarketSpec,
    RateLimits,
)
from actors.emulator.control import ClockControl, FaultControl, LedgerView, LoggedRequest
from actors.emulator.errors import BinanceError
from actors.emulator.faults import FaultEvent, FaultRule, load_fault_file
from actors.emulator.http import Reply, Request
from actors.emulator.orders import Order, OrderList, Trade
from actors.emulator.server import EmulatorServer

__all__ = [
    "DEFAULT_API_KEY", "DEFAULT_API_SECRET", "BinanceError", "ClockControl", "EmulatorConfig",
    "EmulatorServer", "FaultControl", "FaultEvent", "FaultRule", "LedgerView", "LoggedRequest",
    "MarketSpec", "Order", "OrderList", "RateLimits", "Reply", "Request", "Trade",
    "load_fault_file",
]
