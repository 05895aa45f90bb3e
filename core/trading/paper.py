"""The paper client: a simulated venue account with the backtester's fill model.

:class:`PaperClient` implements :class:`~core.trading.execution.SimulatedVenue`. It holds one
cash balance shared by every symbol and tag, FIFO positions per (symbol, tag) and the working
orders, and matches them against the bars it is shown (:meth:`PaperClient.advance`) in the one
event order the backtester uses (``core.backtest.kernel``), per bar:

1. funding settles on every position carried into the bar: ``quantity * open * rate`` is paid;
2. working orders (accepted at an earlier close) fill at this open, in arrival order. An order
   is a *target order*, as the backtester's: its quantity is computed at the open from the
   request's target, target notional and decision equity (``order_quantity``), then slippage
   (half-spread + impact on the decision bar's volume), buys clipped to the cash (fee
   included), minimum notional, lot size, taker fee;
3. stop-loss / take-profit of each position are checked intrabar (``check_stops``: the
   conservative order, gaps fill at the open; a take-profit pays the maker fee): the venue
   creates the exit order and fills it at once;
4. the account is marked at the close;
5. ruin: with shorts allowed, an account whose equity at the close is <= 0 while it holds
   positions liquidates every position at the next open (orders the venue creates).

Every change is an event, numbered from 1 (see :meth:`PaperClient.events_since`). Quiet
stretches (no working order, no stop hit, no funding, no ruin) are processed with numpy.
Nothing here reads a clock or does I/O: times come from the bars.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest.fills import slippage_fraction
from core.backtest.layout import (
    P_ALLOW_SHORT,
    P_HALF_SPREAD,
    P_LOT_SIZE,
    P_MAKER_FEE,
    P_MIN_NOTIONAL,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TAKER_FEE,
)
from core.backtest.params import build_params
from core.backtest.sizing import order_quantity, quantize
from core.trading.book_walk import BookSnapshot, walk_price
from core.trading.execution import (
    AccountReport,
    EventPage,
    Exchange,
    ExecutionEvent,
    page_since,
)
from core.trading.lots import FifoPosition, set_exit_levels
from core.trading.messages import (
    Fill,
    MarketBatch,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    client_order_id,
)
from core.trading.orders import Order
from core.trading.paper_bars import BarMatcher

EVENT_CAPACITY = 20_000
"""Events a client keeps for :meth:`PaperClient.events_since`."""
FINISHED_KEPT = 4_096
"""Finished orders a client remembers (a retried submit of one gets its final status)."""
HALTED_REASON = "account_halted"


@dataclass(frozen=True, slots=True)
class PaperState:
    """Everything a :class:`PaperClient` needs to resume: a plain, copyable value.

    Attributes:
        config: Fill model, costs, stops and direction.
        symbols: The session's symbols.
        risk: Effective risk limits capping fill quantities (None = uncapped).
        cash: Quote cash.
        positions: Position books, sorted by (symbol, tag), flat ones included.
        working: Working orders, in arrival order.
        finished: Recently finished orders, oldest first.
        close: Last marked close per symbol (NaN before the first bar).
        volume: Volume of the last marked bar per symbol.
        last_ts: Open time of the last processed bar, None before the first.
        last_index: Session index of the last processed bar (-1 before the first).
        events: Recent events ``(number, event)``, oldest first.
        last_event: Number of the last event.
        halted: Whether new orders are refused.
        halt_reason: Why.
        previewing: Whether the last exchange handed out a preview (the trader may be
            walking it: a kill switch then cancels right after the next sync).
        pending_cancel: ``(ts, reason)`` of such a deferred cancel.
        books: ``(client order id, book)`` read for working market orders that fill by
            walking the venue's book (:mod:`core.trading.book_walk`).
    """

    config: BacktestConfig
    symbols: tuple[str, ...]
    risk: RiskLimits | None
    cash: float
    positions: tuple[FifoPosition, ...]
    working: tuple[Order, ...]
    finished: tuple[Order, ...]
    close: tuple[float, ...]
    volume: tuple[float, ...]
    last_ts: int | None
    last_index: int
    events: tuple[tuple[int, ExecutionEvent], ...]
    last_event: int
    halted: bool = False
    halt_reason: str = ""
    previewing: bool = False
    pending_cancel: tuple[int, str] | None = None
    books: tuple[tuple[str, BookSnapshot], ...] = ()


class PaperClient:
    """A simulated venue account (see the module doc).

    Args:
        config: Costs, sizing caps, stops, filters and direction (the backtester's).
        symbols: The session's symbols.
        initial_cash: Starting cash; defaults to ``config.initial_cash``.
        risk: Effective risk limits: ``max_trade_pct`` caps fill quantities exactly as in
            ``run_backtest(..., risk=...)``. None leaves them uncapped.
        event_capacity: Events kept for :meth:`events_since`.

    Raises:
        ValueError: If ``symbols`` is empty or repeats a name.
    """

    def __init__(self, config: BacktestConfig, symbols: Sequence[str],
                 initial_cash: float | None = None, risk: RiskLimits | None = None,
                 event_capacity: int = EVENT_CAPACITY) -> None:
        names = tuple(symbols)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"symbols must be non-empty and unique, got {names}")
        self.config, self.symbols, self._risk = config, names, risk
        p = self._p = build_params(config, risk)
        self._taker, self._maker = float(p[P_TAKER_FEE]), float(p[P_MAKER_FEE])
        self._half_spread, self._lot = float(p[P_HALF_SPREAD]), float(p[P_LOT_SIZE])
        self._min_notional = float(p[P_MIN_NOTIONAL])
        self._stop_loss, self._take_profit = float(p[P_STOP_LOSS]), float(p[P_TAKE_PROFIT])
        self.allow_short = bool(p[P_ALLOW_SHORT] > 0.5)
        self._column = {s: j for j, s in enumerate(names)}
        self._cash = float(config.initial_cash if initial_cash is None else initial_cash)
        self._positions: dict[tuple[str, str], FifoPosition] = {}
        self._working: dict[str, Order] = {}
        self._finished: OrderedDict[str, Order] = OrderedDict()
        self._close = np.full(len(names), np.nan)
        self._volume = np.full(len(names), np.nan)
        self._events: deque[tuple[int, ExecutionEvent]] = deque(maxlen=event_capacity)
        self._last_event = 0
        self._scratch = np.empty(1)
        self.last_ts: int | None = None
        self.last_index = -1
        self.halted, self.halt_reason = False, ""
        self.previewing = False
        self._pending_cancel: tuple[int, str] | None = None
        self._books: dict[str, BookSnapshot] = {}

    # --- state ---------------------------------------------------------------------------

    @property
    def state(self) -> PaperState:
        """The account as an independent value."""
        return PaperState(self.config, self.symbols, self._risk, self._cash,
                          tuple(p.copy() for p in self._positions.values()),
                          tuple(self._working.values()), tuple(self._finished.values()),
                          tuple(float(c) for c in self._close),
                          tuple(float(v) for v in self._volume), self.last_ts,
                          self.last_index, tuple(self._events), self._last_event,
                          self.halted, self.halt_reason, self.previewing, self._pending_cancel,
                          tuple(self._books.items()))

    @classmethod
    def from_state(cls, state: PaperState, event_capacity: int = EVENT_CAPACITY
                   ) -> PaperClient:
        """A client continuing exactly where ``state`` was taken."""
        client = cls(state.config, state.symbols, state.cash, risk=state.risk,
                     event_capacity=event_capacity)
        client._positions = {p.key: p.copy() for p in state.positions}
        client._working = {o.client_order_id: o for o in state.working}
        client._finished = OrderedDict((o.client_order_id, o) for o in state.finished)
        client._close[:] = state.close
        client._volume[:] = state.volume
        client._events.extend(state.events)
        client._last_event = state.last_event
        client.last_ts, client.last_index = state.last_ts, state.last_index
        client.halted, client.halt_reason = state.halted, state.halt_reason
        client.previewing, client._pending_cancel = state.previewing, state.pending_cancel
        client._books = dict(state.books)
        return client

    def state_hash(self) -> str:
        """Stable hash of the account: cash, positions and lots, working orders, marks."""
        digest = hashlib.blake2b(digest_size=16)
        items: list[object] = [self._cash, self.last_ts, self.last_index, self._last_event,
                               self._close.tolist(), self._volume.tolist(), self.halted]
        for p in self._positions.values():
            items.append((p.key, p.quantity, p.realized, p.fees, p.opened_ts, p.entry_index,
                          p.entry_avg, p.strategy_id, p.stop_loss, p.take_profit,
                          [(lot.quantity, lot.price, lot.ts) for lot in p.lots]))
        for order in self._working.values():
            items.append((order.request, order.status.value, order.filled_quantity))
        digest.update(repr(items).encode())
        return digest.hexdigest()

    # --- ExecutionClient -----------------------------------------------------------------

    @property
    def cash(self) -> float:
        """Quote cash."""
        return self._cash

    @property
    def last_event(self) -> int:
        """Number of the last event produced."""
        return self._last_event

    def position(self, symbol: str, tag: str = "core") -> FifoPosition | None:
        """The (symbol, tag) position book (read-only use), None if never traded."""
        return self._positions.get((symbol, tag))

    def open_positions(self) -> list[FifoPosition]:
        """Non-flat positions sorted by (symbol, tag) (read-only use)."""
        return [p for p in self._positions.values() if p.quantity != 0.0]

    def order(self, client_order_id: str) -> Order | None:
        """A working or recently finished order, if the client knows it."""
        return self._working.get(client_order_id) or self._finished.get(client_order_id)

    def submit(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate]:
        """Accept each request as a working order (it fills at the next open).

        Idempotent: an id seen before answers its current status and changes nothing. An
        order for an unknown symbol, or any order while the account is halted, is REJECTED.
        """
        return [self._submit(request) for request in requests]

    def _submit(self, request: OrderRequest) -> OrderUpdate:
        known = self.order(request.client_order_id)
        if known is not None:
            return known.last_update()
        if request.symbol not in self._column or self.halted:
            reason = "unknown_symbol" if request.symbol not in self._column else HALTED_REASON
            order, update = Order(request).transition(OrderStatus.REJECTED, request.ts,
                                                      reason=reason)
            self._remember(order)
        else:
            order, update = Order(request).transition(OrderStatus.ACCEPTED, request.ts)
            self._working[request.client_order_id] = order
        self._emit(update)
        return update

    def cancel(self, client_order_ids: Sequence[str] | None, ts: int, reason: str
               ) -> list[OrderUpdate]:
        """Cancel working orders (None: all but the venue's own liquidations)."""
        ids = list(self._working) if client_order_ids is None else list(client_order_ids)
        updates = []
        for oid in ids:
            order = self._working.get(oid)
            if order is None or (client_order_ids is None
                                 and order.request.kind == "liquidation"):
                continue
            updates.append(self._finish(oid, OrderStatus.CANCELED, ts, None, reason))
        return updates

    def halt(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Kill switch at the venue: refuse every new order, cancel the working ones.

        The cancels happen at once, unless the last exchange handed out a preview that the
        trader may be walking: they then happen right after the next exchange's sync, so the
        bars the trader walked are committed as it saw them (see :meth:`exchange`).
        """
        self.halted, self.halt_reason = True, reason
        if self.previewing:
            self._pending_cancel = (int(ts), reason)
            return []
        return self.cancel(None, ts, reason)

    def exchange(self, batch: MarketBatch, since: int, sync_to: int,
                 submit: Sequence[OrderRequest], advance_to: int, preview_to: int
                 ) -> Exchange:
        """One :meth:`~core.trading.execution.VenueLink.exchange` on this account.

        In order: sync over the walked bars, deferred kill-switch cancels, submit, advance,
        preview.
        """
        unsolicited = self._last_event - since
        self.advance(batch, sync_to)
        synced = self._last_event - since - unsolicited
        self.previewing = False
        if self._pending_cancel is not None:
            ts, reason = self._pending_cancel
            self._pending_cancel = None
            self.cancel(None, ts, reason)
        if submit:
            self.submit(submit)
        self.advance(batch, advance_to)
        page = self.events_since(since)
        preview = self.preview(batch, preview_to) if preview_to > advance_to else ()
        self.previewing = preview_to > advance_to
        return Exchange(page.events, page.last, synced, preview, unsolicited)

    def account(self) -> AccountReport:
        """See :meth:`ExecutionClient.account`."""
        positions = tuple((p.symbol, p.tag, p.quantity) for p in self.open_positions())
        return AccountReport(self.last_ts, self.last_index, self._cash, positions,
                             tuple(self._working), self._last_event, self.halted)

    def events_since(self, since: int) -> EventPage:
        """See :meth:`ExecutionClient.events_since`."""
        return page_since(self._events, self._last_event, since)

    # --- the market ----------------------------------------------------------------------

    def advance(self, batch: MarketBatch, to_index: int) -> None:
        """Process the bars of ``batch`` after the last processed one, up to ``to_index``.

        Raises:
            ValueError: The batch's symbols differ, it skips bars, or ``to_index`` is not in
                it (staying at the last processed bar is allowed).
        """
        if to_index == self.last_index:
            return
        first = self.last_index + 1
        if not batch.start <= first <= to_index < batch.start + batch.n_bars:
            raise ValueError(f"cannot advance from bar {self.last_index} to {to_index} with "
                             f"batch {batch.seq} (bars {batch.start}.."
                             f"{batch.start + batch.n_bars - 1})")
        BarMatcher(self, batch, first - batch.start, to_index - batch.start + 1).run()

    def preview(self, batch: MarketBatch, to_index: int) -> tuple[ExecutionEvent, ...]:
        """The events :meth:`advance` to ``to_index`` would produce; the account is unchanged."""
        if to_index <= self.last_index:
            return ()
        twin = self._fork()
        twin.advance(batch, to_index)
        return tuple(event for _, event in twin._events)

    def _fork(self) -> PaperClient:
        """A throwaway copy for a preview: positions and working orders copied, no history."""
        twin = PaperClient.__new__(PaperClient)
        twin.__dict__.update(self.__dict__)
        twin._positions = {key: p.copy() for key, p in self._positions.items()}
        twin._working = dict(self._working)
        twin._books = dict(self._books)
        twin._finished = OrderedDict()
        twin._close, twin._volume = self._close.copy(), self._volume.copy()
        twin._events = deque()
        twin._scratch = np.empty(1)
        return twin

    # --- internals used by the bar matcher (core.trading.paper_bars) -------------------------

    def _emit(self, event: ExecutionEvent) -> None:
        self._last_event += 1
        self._events.append((self._last_event, event))

    def _remember(self, order: Order) -> None:
        self._finished[order.client_order_id] = order
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)

    def _finish(self, oid: str, status: OrderStatus, ts: int, filled: float | None,
                reason: str = "") -> OrderUpdate:
        order, update = self._working.pop(oid).transition(status, ts, filled_quantity=filled,
                                                          reason=reason)
        self._remember(order)
        self._emit(update)
        return update

    def _venue_order(self, position: FifoPosition, ts: int, kind: str) -> OrderRequest:
        """An exit the venue creates (stop, liquidation): announced, then accepted."""
        q = position.quantity
        equity = self.equity()
        request = OrderRequest(
            client_order_id(position.strategy_id, position.symbol, position.tag, ts, kind),
            position.strategy_id, position.symbol, position.tag, ts,
            Side.SELL if q > 0.0 else Side.BUY, abs(q),
            float(self._close[self._column[position.symbol]]), 0.0, 0.0, True, kind=kind,
            decision_equity=equity)
        self._emit(request)
        order, update = Order(request).transition(OrderStatus.ACCEPTED, ts)
        self._working[request.client_order_id] = order
        self._emit(update)
        return request

    def equity(self, closes: np.ndarray | None = None) -> float:
        """Cash plus every position marked at ``closes`` (default: the last marks).

        Summed in (symbol, tag) order, as the trader's portfolio sums it.
        """
        marks = self._close if closes is None else closes
        value = self._cash
        for p in self._positions.values():
            if p.quantity != 0.0:
                value = value + p.quantity * marks[self._column[p.symbol]]
        return value

    def quote_books(self, books: dict[str, BookSnapshot]) -> None:
        """Books read for market orders (by client order id): they fill by walking them."""
        self._books.update(books)

    def _fill_market(self, oid: str, o: float, ts: int, index: int) -> None:
        book = self._books.pop(oid, None)
        if book is not None and book.mid > 0.0:
            self._fill_from_book(oid, book, ts, index)
            return
        request = self._working[oid].request
        p = self._p
        held = self._positions.get((request.symbol, request.tag))
        pos = held.quantity if held is not None else 0.0
        equity = self.equity() if request.decision_equity is None else request.decision_equity
        dq = order_quantity(request.target, request.target_notional, equity, o, pos, p)
        if dq == 0.0:
            if request.target != 0.0 or pos != 0.0:
                self._finish(oid, OrderStatus.REJECTED, ts, None, "below_min_notional_or_lot")
            else:
                self._finish(oid, OrderStatus.CANCELED, ts, None, "position_already_flat")
            return
        taker, spread_part = self._taker, self._half_spread
        ref_volume = float(self._volume[self._column[request.symbol]])
        qty = abs(dq)
        side = 1.0 if dq > 0.0 else -1.0
        slip = slippage_fraction(qty, ref_volume, spread_part, p)
        price = o * (1.0 + side * slip)
        reason = ""
        if dq > 0.0 and pos + dq > 0.0 and dq * price * (1.0 + taker) > self._cash:
            cover = max(-pos, 0.0)
            affordable = max(self._cash, 0.0) / (price * (1.0 + taker))
            qty = max(quantize(max(affordable, cover), self._lot), cover)
            slip = slippage_fraction(qty, ref_volume, spread_part, p)
            price = o * (1.0 + slip)
            if qty > cover and (qty - cover) * o < self._min_notional:
                qty = cover
            dq = qty
            reason = "cash_limited"
        if qty > 0.0:
            self._book(oid, dq, price, qty * price * taker, qty * abs(price - o), "taker", ts,
                       index, reason)
        else:
            self._finish(oid, OrderStatus.REJECTED, ts, None, "insufficient_cash")

    def _fill_from_book(self, oid: str, book: BookSnapshot, ts: int, index: int) -> None:
        """A market order sized at the book's mid and priced by walking it (taker fee)."""
        request = self._working[oid].request
        held = self._positions.get((request.symbol, request.tag))
        pos = held.quantity if held is not None else 0.0
        equity = self.equity() if request.decision_equity is None else request.decision_equity
        mid = book.mid
        dq = order_quantity(request.target, request.target_notional, equity, mid, pos, self._p)
        price = walk_price(book, Side.BUY if dq > 0.0 else Side.SELL, abs(dq))
        if dq == 0.0 or price is None:
            self._finish(oid, OrderStatus.REJECTED, ts, None,
                         "below_min_notional_or_lot" if dq == 0.0 else "empty_book")
            return
        reason = "order_book"
        if dq > 0.0 and pos + dq > 0.0 and dq * price * (1.0 + self._taker) > self._cash:
            cover = max(-pos, 0.0)  # as the model does: what the cash affords
            affordable = max(self._cash, 0.0) / (price * (1.0 + self._taker))
            dq = max(quantize(max(affordable, cover), self._lot), cover)
            if dq > cover and (dq - cover) * mid < self._min_notional:
                dq = cover
            reason = "order_book_cash_limited"
        qty = abs(dq)
        if qty <= 0.0:
            self._finish(oid, OrderStatus.REJECTED, ts, None, "insufficient_cash")
            return
        self._book(oid, dq, price, qty * price * self._taker, qty * abs(price - mid), "taker",
                   ts, index, reason)

    def _book(self, oid: str, dq: float, price: float, fee: float, slip_cost: float,
              liquidity: str, ts: int, index: int, reason: str = "") -> None:
        request = self._working[oid].request
        key = (request.symbol, request.tag)
        position = self._positions.get(key)
        if position is None:
            position = FifoPosition(*key)
            self._positions[key] = position
            self._positions = dict(sorted(self._positions.items()))
        pos = position.quantity
        self._cash -= dq * price + fee
        position.fill(dq, price, fee, ts, index)
        set_exit_levels(position, pos, dq, request.strategy_id, request.stop_loss_pct,
                        request.take_profit_pct, self._stop_loss, self._take_profit)
        qty = abs(dq)
        self._emit(Fill(oid, request.strategy_id, request.symbol, request.tag, ts,
                        Side.BUY if dq > 0.0 else Side.SELL, qty, price, fee, slip_cost,
                        liquidity, request.kind))
        self._finish(oid, OrderStatus.FILLED, ts, qty, reason)
