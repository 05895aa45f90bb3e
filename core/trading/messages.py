"""Frozen, typed messages between the live components (data, commands, events).

Every message is a frozen dataclass: a receiver derives a new message, it never mutates the
one it got. Times are epoch milliseconds UTC taken from a :class:`~core.trading.clock.Clock`
or from the data, never from the wall clock. Identifiers are pure functions of their inputs
(see :func:`client_order_id`), so a replay produces the same ids.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class TradingState(StrEnum):
    """What the risk guardian lets through (NautilusTrader's TradingState)."""

    ACTIVE = "ACTIVE"
    """Every order that passes the invariants."""
    REDUCING = "REDUCING"
    """Only orders that reduce the absolute exposure of their symbol."""
    HALTED = "HALTED"
    """Nothing; working orders are cancelled."""


class Side(StrEnum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"


class OrderStatus(StrEnum):
    """States of the order state machine (see ``core.trading.orders``)."""

    INITIALIZED = "INITIALIZED"
    DENIED = "DENIED"
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar of one symbol; ``ts`` is the bar's open time (ms UTC)."""

    venue: str
    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True, eq=False)
class MarketBatch:
    """Consecutive bars of several symbols on common timestamps: one SIM step.

    Arrays are read-only. ``open`` .. ``volume`` have shape ``(n_bars, n_symbols)``; column
    ``j`` belongs to ``symbols[j]``. ``seq`` numbers the batches of a session from 0 and
    ``start`` is the index of the first bar in the session's bar count.

    Attributes:
        seq: Batch number in the session (0, 1, ...).
        start: Session-wide index of the first bar of this batch.
        venue: Venue of every symbol.
        symbols: Column names.
        timeframe_ms: Bar length.
        ts: Bar open times, shape ``(n_bars,)``, strictly increasing.
        open: Opens.
        high: Highs.
        low: Lows.
        close: Closes.
        volume: Volumes (base asset).
        funding: Funding rate settled at each bar's open, same shape (perpetuals), or None
            (no funding: spot).
    """

    seq: int
    start: int
    venue: str
    symbols: tuple[str, ...]
    timeframe_ms: int
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    funding: np.ndarray | None = None

    @property
    def n_bars(self) -> int:
        """Number of bars in the batch."""
        return int(self.ts.shape[0])

    def bar(self, i: int, j: int) -> Bar:
        """Bar ``i`` of symbol column ``j`` as a :class:`Bar`."""
        return Bar(self.venue, self.symbols[j], int(self.ts[i]), float(self.open[i, j]),
                   float(self.high[i, j]), float(self.low[i, j]), float(self.close[i, j]),
                   float(self.volume[i, j]))


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's decision at the close of bar ``ts``: hold ``target`` units of ``symbol``.

    ``target`` is a signed multiple of the sizing unit, exactly as the backtester's targets
    (1.0 = one unit long, -1.0 = one unit short, 0.0 = flat). An order results only when the
    target of ``(strategy_id, symbol, tag)`` changes.

    Attributes:
        strategy_id: Stable id of the emitting strategy (name + hash of its definition).
        symbol: Instrument.
        ts: Open time of the bar whose close produced the decision.
        target: Signed target in sizing units.
        tag: Position tag (several positions per symbol: ``"core"``, ``"swing"``, ...).
        stop_loss_pct: Optional client-side stop-loss distance from entry, %.
        take_profit_pct: Optional client-side take-profit distance from entry, %.
        reason: Free text for the diary (e.g. the feature values behind the decision).
        size_scale: Factor on the sized notional (after the sizing caps): a drift alarm's
            ``halve_size`` trades the same targets at half the size.
    """

    strategy_id: str
    symbol: str
    ts: int
    target: float
    tag: str = "core"
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    reason: str = ""
    size_scale: float = 1.0


def client_order_id(strategy_id: str, symbol: str, tag: str, ts: int, kind: str = "signal"
                    ) -> str:
    """Deterministic, idempotent client order id of the order a signal (or a stop) causes.

    The same (strategy, symbol, tag, bar, kind) always gives the same id, so a retried or
    replayed command can never create a second order.

    Args:
        strategy_id: Emitting strategy.
        symbol: Instrument.
        tag: Position tag.
        ts: Bar open time of the decision.
        kind: ``"signal"``, ``"stop_loss"``, ``"take_profit"``, ``"flatten"``, ...

    Returns:
        ``"E"`` + 23 hex characters (fits the 36-character limit of most venues).
    """
    key = f"{strategy_id}|{symbol}|{tag}|{ts}|{kind}".encode()
    return "E" + hashlib.blake2b(key, digest_size=12).hexdigest()[:23]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order derived from a signal, before the risk guardian's verdict.

    The quantity filled at the next open is recomputed there from ``target`` and
    ``target_notional`` (as the backtester does); ``quantity`` is the estimate at
    ``reference_price`` that the pre-trade checks use.

    Attributes:
        client_order_id: See :func:`client_order_id`.
        strategy_id: Emitting strategy.
        symbol: Instrument.
        tag: Position tag.
        ts: Bar open time of the decision (the order fills at the next bar's open).
        side: BUY or SELL.
        quantity: Estimated absolute quantity (base asset) at ``reference_price``.
        reference_price: Last close when the order was created.
        target: The signal's target (sizing units).
        target_notional: Quote notional of one target unit at decision time.
        reduce_only: True when the order cannot increase the absolute exposure of ``symbol``.
        stop_loss_pct: Client-side stop-loss for the resulting position, %.
        take_profit_pct: Client-side take-profit for the resulting position, %.
        kind: What caused it: ``"signal"``, ``"stop_loss"``, ``"take_profit"``, ``"flatten"``.
        decision_equity: Portfolio equity at the decision close, used at the fill exactly as
            the backtester uses it (the ``equity <= 0`` guard and the max-trade cap); None
            when unknown (the broker then uses its equity at the fill).
    """

    client_order_id: str
    strategy_id: str
    symbol: str
    tag: str
    ts: int
    side: Side
    quantity: float
    reference_price: float
    target: float
    target_notional: float
    reduce_only: bool
    stop_loss_pct: float | None = None
    take_profit_pct: float | None = None
    kind: str = "signal"
    decision_equity: float | None = None

    @property
    def notional(self) -> float:
        """Estimated quote notional, ``quantity * reference_price``."""
        return self.quantity * self.reference_price


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The risk guardian's verdict on one :class:`OrderRequest`.

    Attributes:
        client_order_id: The order judged.
        ts: Time of the verdict (the decision bar's open time in SIM).
        approved: True if the order may go to the executor.
        reason: Empty when approved; else a stable code such as ``"max_trade_size"``,
            ``"trading_state_halted"`` or ``"price_band"``.
        detail: Human-readable numbers behind the reason.
        state: Trading state when judged.
    """

    client_order_id: str
    ts: int
    approved: bool
    reason: str = ""
    detail: str = ""
    state: TradingState = TradingState.ACTIVE


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """A recorded risk event: a denial, a breaker tripping or resetting, a state change.

    Attributes:
        ts: When (ms UTC, from the clock or the data).
        kind: ``"denied"``, ``"breaker"``, ``"state"``, ``"kill_switch"``, ``"stale_data"``,
            ``"feed_error"``, ``"reconcile"`` (a difference with the venue, or its adoption).
        reason: Stable code (for denials the :attr:`RiskDecision.reason`).
        detail: Human-readable numbers.
        client_order_id: The order concerned, if any.
        symbol: The symbol concerned, if any.
        state: Trading state after the event.
    """

    ts: int
    kind: str
    reason: str
    detail: str = ""
    client_order_id: str = ""
    symbol: str = ""
    state: TradingState = TradingState.ACTIVE


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A transition of the order state machine.

    Attributes:
        client_order_id: The order.
        ts: When (bar open time of the bar where it happened).
        status: New status.
        filled_quantity: Cumulative filled quantity (absolute, base asset).
        reason: Why (rejections and cancels), else empty.
    """

    client_order_id: str
    ts: int
    status: OrderStatus
    filled_quantity: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution.

    Attributes:
        client_order_id: The order filled.
        strategy_id: Strategy of the order.
        symbol: Instrument.
        tag: Position tag.
        ts: Bar open time of the fill (the bar after the decision for signal orders).
        side: BUY or SELL.
        quantity: Absolute quantity (base asset).
        price: Fill price after slippage.
        fee: Fee paid (quote).
        slippage_cost: Cost of slippage against the reference price (quote).
        liquidity: ``"taker"`` or ``"maker"``.
        reason: ``"signal"``, ``"stop_loss"``, ``"take_profit"``, ``"flatten"``, ...
    """

    client_order_id: str
    strategy_id: str
    symbol: str
    tag: str
    ts: int
    side: Side
    quantity: float
    price: float
    fee: float
    slippage_cost: float
    liquidity: str = "taker"
    reason: str = "signal"


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding settled on one open (symbol, tag) position at a bar's open (perpetuals).

    The amount follows the backtester: ``quantity * price * rate`` is paid (a long pays a
    positive rate, a short receives it); a negative amount is money received.

    Attributes:
        symbol: Instrument.
        tag: Position tag.
        ts: Open time of the bar at which it settled.
        quantity: Signed position carried into the bar.
        price: The bar's open (the mark the payment is computed on).
        rate: Funding rate of the settlement.
        amount: Quote paid (negative: received).
    """

    symbol: str
    tag: str
    ts: int
    quantity: float
    price: float
    rate: float
    amount: float


@dataclass(frozen=True, slots=True)
class CashAdjustment:
    """Quote cash the venue holds that no order of ours explains, adopted into the book.

    Reconciliation under the ``adopt`` policy (:mod:`core.trading.venue_adopt`) brings the
    book to the venue's balances: a deposit or withdrawal, or the cash side of a position
    adopted at its mark (so that adopting an asset does not spend cash the venue still has).

    Attributes:
        ts: Open time of the bar it is booked at.
        amount: Quote added to the book's cash (negative: removed).
        reason: Stable code (``"external_cash"``, ``"external_position"``).
        detail: What it adopts, for the record.
    """

    ts: int
    amount: float
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    """An open position of one (symbol, tag): net of its FIFO lots.

    Attributes:
        symbol: Instrument.
        tag: Position tag.
        quantity: Signed quantity (base asset).
        avg_price: Volume-weighted entry price of the open lots.
        last_price: Mark price (last close).
        unrealized_pnl: ``quantity * (last_price - avg_price)``.
        realized_pnl: Realised PnL of this (symbol, tag) so far, after fees.
        mae: Maximum adverse excursion of the current position, quote (<= 0).
        mfe: Maximum favourable excursion of the current position, quote (>= 0).
        opened_ts: When the current position was opened.
    """

    symbol: str
    tag: str
    quantity: float
    avg_price: float
    last_price: float
    unrealized_pnl: float
    realized_pnl: float
    mae: float
    mfe: float
    opened_ts: int


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """The book at the close of bar ``ts``.

    Attributes:
        ts: Bar open time of the bar whose close marks the book.
        cash: Quote cash.
        equity: ``cash`` + marked value of every position.
        gross_exposure: Sum of ``|quantity * last_price|`` over positions.
        positions: Open positions, sorted by (symbol, tag).
    """

    ts: int
    cash: float
    equity: float
    gross_exposure: float
    positions: tuple[PositionSnapshot, ...] = field(default_factory=tuple)

    def net_quantity(self, symbol: str) -> float:
        """Signed quantity of ``symbol`` over all tags."""
        return sum(p.quantity for p in self.positions if p.symbol == symbol)


@dataclass(frozen=True, slots=True)
class DiaryEntry:
    """One decision of the diary: what the strategy believed, decided, and what risk said.

    Attributes:
        ts: Decision bar open time.
        strategy_id: Strategy.
        strategy_hash: Hash of the strategy's definition (expression or params).
        symbol: Instrument.
        features: Feature values / beliefs behind the decision (name -> value).
        decision: e.g. ``"target 1.0 -> 0.0"``.
        client_order_id: Order that resulted, if any.
        verdict: ``"approved"``, ``"denied:<reason>"`` or ``""`` (no order).
    """

    ts: int
    strategy_id: str
    strategy_hash: str
    symbol: str
    features: tuple[tuple[str, float], ...]
    decision: str
    client_order_id: str = ""
    verdict: str = ""
