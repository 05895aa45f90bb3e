"""Pure engines of the live system: messages, paper broker, risk engine, strategy runner.

Import from the modules (``core.trading.broker``, ``core.trading.risk``, ...); this package
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
