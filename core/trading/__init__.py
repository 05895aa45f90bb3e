"""Pure engines of the live system.

Messages, the execution contract, the paper client, the portfolio, the order planner, the
trading loop, the risk engine and the strategy runner.

Import from the modules (``core.trading.trader``, ``core.trading.paper``, ...); this package
re-exports only the message types, so importing it stays cheap.
"""

from core.trading.messages import (
    Bar,
    DiaryEntry,
    Fill,
    FundingPayment,
    MarketBatch,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionSnapshot,
    RiskDecision,
    RiskEvent,
    Side,
    Signal,
    TradingState,
    client_order_id,
)

__all__ = [
    "Bar", "DiaryEntry", "Fill", "FundingPayment", "MarketBatch", "OrderRequest",
    "OrderStatus", "OrderUpdate",
    "PortfolioSnapshot", "PositionSnapshot", "RiskDecision", "RiskEvent", "Side", "Signal",
    "TradingState", "client_order_id",
]
