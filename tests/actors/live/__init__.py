"""Helpers shared by the live-actor tests: hand-made, deterministic batches of records."""

from __future__ import annotations

import numpy as np

from actors.adapters.session_store import BatchRecords, LatencySample
from core.trading.messages import (
    DiaryEntry,
    Fill,
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

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def make_batch(seq: int, book: str = "live", *, bars: int = 3) -> BatchRecords:
    """Batch ``seq``: ``bars`` hourly bars, one BTC order filled, one ETH order denied."""
    start = T0 + seq * bars * HOUR
    ts = start + HOUR * np.arange(bars, dtype=np.int64)
    decided = int(ts[0])
    filled = int(ts[1])
    target = 1.0 if seq % 2 == 0 else 0.0
    side = Side.BUY if seq % 2 == 0 else Side.SELL
    btc = client_order_id("mom", "BTC/USDT", "core", decided)
    eth = client_order_id("mom", "ETH/USDT", "core", decided)
    price = 30_000.0 + 100.0 * seq + 0.1
    signals = [Signal("mom", "BTC/USDT", decided, target, reason=f"z={0.1 * seq}"),
               Signal("mom", "ETH/USDT", decided, 2.0, stop_loss_pct=5.0)]
    requests = [
        OrderRequest(btc, "mom", "BTC/USDT", "core", decided, side, 0.01, price, target,
                     300.0, side is Side.SELL),
        OrderRequest(eth, "mom", "ETH/USDT", "core", decided, Side.BUY, 1.0 / 3.0, 2000.0,
                     2.0, 1000.0, False, stop_loss_pct=5.0),
    ]
    decisions = [RiskDecision(btc, decided, True),
                 RiskDecision(eth, decided, False, "max_trade_size", "666.7 > 500",
                              TradingState.ACTIVE)]
    updates = [OrderUpdate(btc, decided, OrderStatus.ACCEPTED),
               OrderUpdate(btc, filled, OrderStatus.FILLED, 0.01)]
    fills = [Fill(btc, "mom", "BTC/USDT", "core", filled, side, 0.01, price + 0.2,
                  0.3 * (price + 0.2) * 0.01 / 3.0, 0.002)]
    cash = 10_000.0 - 0.1 * seq
    equity = cash + 3.0 + 0.1 * np.arange(bars)
    position = PositionSnapshot("BTC/USDT", "core", 0.01, price, price + 1,
                                0.01, 0.0, -0.5, 1.5, decided)
    positions = (position,) if seq % 2 == 0 else ()
    snapshot = PortfolioSnapshot(int(ts[-1]), cash, float(equity[-1]), 300.1, positions)
    events = [RiskEvent(decided, "denied", "max_trade_size", "666.7 > 500", eth, "ETH/USDT")]
    diary = [DiaryEntry(decided, "mom", "h1", "BTC/USDT", (("z", 0.1 * seq), ("vol", 1 / 3)),
                        f"target -> {target}", btc, "approved"),
             DiaryEntry(decided, "mom", "h1", "ETH/USDT", (("z", float("nan")),),
                        "target 0.0 -> 2.0", eth, "denied:max_trade_size")]
    latencies = [LatencySample("signal", 0.5 + seq), LatencySample("risk", 0.25)]
    return BatchRecords(book=book, signals=signals, order_requests=requests,
                        risk_decisions=decisions, order_updates=updates, fills=fills,
                        portfolio=[snapshot], equity_ts=ts, equity=equity, risk_events=events,
                        diary=diary, latencies=latencies)
