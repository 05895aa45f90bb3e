"""Orders on a real venue, driven only by the venue's answers (pure).

:class:`VenueOrders` is the book of the orders one session sent to a venue. Its input is what
the venue said: the answer to a create, a targeted query by client id, a cancel, the account's
trades. Its output is the project's events (:class:`~core.trading.messages.OrderUpdate`,
:class:`~core.trading.messages.Fill`), each produced once. The book is rebuilt from fills,
never from intentions: an order's filled quantity is what the venue reports, and a fill exists
only for a trade the venue lists.

The rules that keep one client id to at most one order on the venue:

- A create whose answer never came (timeout, dropped connection, 5xx, Binance's -1006/-1007
  "execution status unknown") leaves the order UNKNOWN (:meth:`VenueOrders.outcome_unknown`).
  It is resolved only by a targeted query by client id, never by sending it again.
- "Not found" counts only when the venue itself says so (-2013), never on a network error.
  An UNKNOWN order is declared *not placed* after ``not_found_confirmations`` such answers, and
  not before the venue's receive window has passed since the send: after that window the venue
  refuses the request if it arrives late, so no order can appear any more.
- A venue status is applied by walking the state machine (:mod:`core.trading.orders`): a
  market order answered FILLED goes through ACCEPTED first; a repeated status is no event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from core.trading.messages import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from core.trading.orders import Order, check_transition

VENUE_STATUS = {
    "NEW": OrderStatus.ACCEPTED,
    "PENDING_NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "PENDING_CANCEL": OrderStatus.ACCEPTED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.CANCELED,
    "EXPIRED_IN_MATCH": OrderStatus.CANCELED,
}
"""Binance's order statuses -> the project's (an expiry is a cancel by the venue)."""
NOT_PLACED = "not_placed"
"""Reason of the REJECTED update of an UNKNOWN order the venue confirmed it never had."""


@dataclass(frozen=True, slots=True)
class VenueOrderReport:
    """What the venue says about one order.

    Attributes:
        venue_client_id: The client id the order carries on the venue.
        venue_order_id: The venue's own order id.
        symbol: Unified symbol.
        status: The venue's status (``"NEW"``, ``"FILLED"``, ... see :data:`VENUE_STATUS`).
        filled_quantity: Cumulative executed quantity.
        ts: Venue time of the report (ms).
    """

    venue_client_id: str
    venue_order_id: str
    symbol: str
    status: str
    filled_quantity: float
    ts: int


@dataclass(frozen=True, slots=True)
class VenueTrade:
    """One trade of the account as the venue lists it.

    Attributes:
        trade_id: The venue's trade id (unique per symbol).
        venue_order_id: The order it belongs to.
        symbol: Unified symbol.
        side: BUY or SELL.
        quantity: Base quantity.
        price: Price.
        fee_quote: The whole commission converted to the quote asset.
        maker: Whether the order was the maker.
        ts: Venue time of the trade (ms).
        fee_base: The part of the commission the venue took in the base asset (Binance's
            default on a buy without BNB), in base units (also counted in ``fee_quote``).
    """

    trade_id: str
    venue_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee_quote: float
    maker: bool
    ts: int
    fee_base: float = 0.0

    @property
    def held_quantity(self) -> float:
        """How much the account's base holding moved (unsigned).

        The quantity less a fee taken in the base asset on a buy, plus one on a sell. It is
        the book's fill quantity: with ``fee_quote`` as its fee the cash moves by exactly
        ``quantity * price`` (the venue's), and the position equals the venue's balance, so
        an exit never asks to sell more than is held.
        """
        return self.quantity - self.fee_base if self.side is Side.BUY else \
            self.quantity + self.fee_base


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    """One order of the session on the venue.

    Attributes:
        order: The project's order record (state machine and history).
        venue_client_id: Its id on the venue.
        venue_order_id: The venue's id once known ("" before).
        sent_ms: Venue time at which the create was sent.
        unknown: True while a create's outcome is unknown.
        not_found: Consecutive venue-confirmed "not found" answers.
    """

    order: Order
    venue_client_id: str
    venue_order_id: str = ""
    sent_ms: int = 0
    unknown: bool = False
    not_found: int = 0

    @property
    def needs_query(self) -> bool:
        """Whether the venue must be asked about it (outcome unknown, or still working)."""
        return self.unknown or self.order.is_working


@dataclass(frozen=True, slots=True)
class VenueOrdersState:
    """Everything :class:`VenueOrders` holds, for a snapshot."""

    orders: tuple[TrackedOrder, ...]
    trade_keys: tuple[tuple[str, str], ...]
    external_trades: tuple[VenueTrade, ...]


class VenueOrders:
    """The session's orders on one venue account (see the module doc).

    Args:
        not_found_confirmations: Venue "not found" answers that make an UNKNOWN order
            *not placed*.
        recv_window_ms: The venue's receive window: a create sent longer ago than this can no
            longer arrive.
    """

    def __init__(self, not_found_confirmations: int = 3, recv_window_ms: int = 5_000) -> None:
        if not_found_confirmations < 1:
            raise ValueError("not_found_confirmations must be >= 1")
        self.not_found_confirmations = not_found_confirmations
        self.recv_window_ms = recv_window_ms
        self._orders: dict[str, TrackedOrder] = {}
        self._by_venue_client: dict[str, str] = {}
        self._by_venue_order: dict[tuple[str, str], str] = {}  # (symbol, venue id) -> ours
        self._trade_keys: set[tuple[str, str]] = set()
        self._trade_order: list[tuple[str, str]] = []
        self.external_trades: list[VenueTrade] = []

    # --- queries ---------------------------------------------------------------------------

    def get(self, client_order_id: str) -> TrackedOrder | None:
        """The tracked order, if the session sent it."""
        return self._orders.get(client_order_id)

    def by_venue_client_id(self, venue_client_id: str) -> TrackedOrder | None:
        """The tracked order carrying ``venue_client_id`` on the venue."""
        coid = self._by_venue_client.get(venue_client_id)
        return None if coid is None else self._orders[coid]

    def needing_query(self) -> list[TrackedOrder]:
        """Orders whose outcome is unknown or that are still working, in sending order."""
        return [t for t in self._orders.values() if t.needs_query]

    def working(self) -> list[TrackedOrder]:
        """Orders working on the venue, in sending order."""
        return [t for t in self._orders.values() if t.order.is_working]

    def __len__(self) -> int:
        return len(self._orders)

    # --- the venue's answers ---------------------------------------------------------------

    def sending(self, request: OrderRequest, venue_client_id: str, sent_ms: int) -> None:
        """Record a create about to be sent (its outcome is unknown until answered).

        Raises:
            ValueError: The order was sent already (a client id is sent at most once).
        """
        coid = request.client_order_id
        if coid in self._orders:
            raise ValueError(f"order {coid} was sent already: look it up, never resend")
        self._orders[coid] = TrackedOrder(Order(request), venue_client_id, sent_ms=sent_ms,
                                          unknown=True)
        self._by_venue_client[venue_client_id] = coid

    def outcome_unknown(self, client_order_id: str) -> None:
        """The create's answer never came: the order may or may not exist on the venue."""
        tracked = self._orders[client_order_id]
        self._orders[client_order_id] = replace(tracked, unknown=True)

    def rejected(self, client_order_id: str, ts: int, reason: str) -> list[OrderUpdate]:
        """The venue refused the create for good (or it never left: a local rule)."""
        tracked = self._orders[client_order_id]
        if tracked.order.status is not OrderStatus.INITIALIZED:
            return []  # the venue has it already (an answer to a retry): its reports rule
        order, update = tracked.order.transition(OrderStatus.REJECTED, ts, reason=reason)
        self._orders[client_order_id] = replace(tracked, order=order, unknown=False,
                                                not_found=0)
        return [update]

    def report(self, report: VenueOrderReport, reason: str = "", ack_ts: int | None = None
               ) -> list[OrderUpdate]:
        """Apply the venue's word on one of our orders; the updates it causes.

        Args:
            report: What the venue says.
            reason: Reason for a cancel (ours: a kill switch, the end of the session).
            ack_ts: Time of the ACCEPTED update a first answer implies (default: the
                report's; a create's answer acknowledges the decision's bar).

        Raises:
            KeyError: The report is about an order this session did not send.
            OrderStateError: The venue went backwards (a bug or a corrupt venue).
        """
        coid = self._by_venue_client[report.venue_client_id]
        tracked = self._orders[coid]
        if report.venue_order_id:  # venue order ids are unique per symbol only
            self._by_venue_order[(report.symbol, report.venue_order_id)] = coid
        target = VENUE_STATUS.get(report.status.upper())
        if target is None:
            raise ValueError(f"order {coid}: unknown venue status {report.status!r}")
        order = tracked.order
        updates: list[OrderUpdate] = []
        filled = max(order.filled_quantity, float(report.filled_quantity))
        if order.status is OrderStatus.INITIALIZED and target is not OrderStatus.REJECTED:
            order, update = order.transition(
                OrderStatus.ACCEPTED, report.ts if ack_ts is None else ack_ts,
                filled_quantity=0.0)
            updates.append(update)
        if target is OrderStatus.CANCELED and report.status.upper() != "CANCELED":
            reason = reason or report.status.lower()
        if target is OrderStatus.ACCEPTED and order.is_terminal:
            check_transition(coid, order.status, target)  # the venue went backwards: raises
        changed = target is not order.status or filled > order.filled_quantity
        if changed and target is not OrderStatus.ACCEPTED:  # ACCEPTED: reached above, or past
            order, update = order.transition(target, report.ts, filled_quantity=filled,
                                             reason=reason)
            updates.append(update)
        self._orders[coid] = replace(tracked, order=order, unknown=False, not_found=0,
                                     venue_order_id=report.venue_order_id
                                     or tracked.venue_order_id)
        return updates

    def not_found(self, client_order_id: str, now_ms: int) -> list[OrderUpdate]:
        """The venue confirmed it has no order with this client id (Binance -2013).

        Only an UNKNOWN order can be declared *not placed*, and only after
        ``not_found_confirmations`` answers and the receive window since the send.
        """
        tracked = self._orders[client_order_id]
        if not tracked.unknown:
            return []
        count = tracked.not_found + 1
        self._orders[client_order_id] = replace(tracked, not_found=count)
        old_enough = now_ms - tracked.sent_ms > self.recv_window_ms
        if count >= self.not_found_confirmations and old_enough:
            return self.rejected(client_order_id, now_ms, NOT_PLACED)
        return []

    def trades(self, trades: Iterable[VenueTrade]) -> list[Fill]:
        """The account's trades: one fill per trade of ours never seen before.

        Trades of orders this session did not send are kept in :attr:`external_trades`
        (reconciliation names them).
        """
        fills: list[Fill] = []
        for trade in trades:
            key = (trade.symbol, trade.trade_id)
            if key in self._trade_keys:
                continue
            self._trade_keys.add(key)
            self._trade_order.append(key)
            coid = self._by_venue_order.get((trade.symbol, trade.venue_order_id))
            if coid is None:
                self.external_trades.append(trade)
                continue
            request = self._orders[coid].order.request
            held = trade.held_quantity
            fills.append(Fill(coid, request.strategy_id, request.symbol, request.tag, trade.ts,
                              trade.side, held, trade.price, trade.fee_quote,
                              slippage_cost=abs(trade.price - request.reference_price)
                              * held, liquidity="maker" if trade.maker else "taker",
                              reason=request.kind))
        return fills

    def forget_external(self, keys: Iterable[tuple[str, str]]) -> None:
        """Drop foreign trades from :attr:`external_trades` (reconciliation adopted them)."""
        adopted = set(keys)
        self.external_trades = [t for t in self.external_trades
                                if (t.symbol, t.trade_id) not in adopted]

    def knows_order(self, symbol: str, venue_order_id: str) -> bool:
        """Whether the venue's order ``venue_order_id`` on ``symbol`` is one of ours."""
        return (symbol, venue_order_id) in self._by_venue_order

    # --- persistence -----------------------------------------------------------------------

    def state(self) -> VenueOrdersState:
        """A value to snapshot; :meth:`from_state` restores it."""
        return VenueOrdersState(tuple(self._orders.values()), tuple(self._trade_order),
                                tuple(self.external_trades))

    @classmethod
    def from_state(cls, state: VenueOrdersState, not_found_confirmations: int = 3,
                   recv_window_ms: int = 5_000) -> VenueOrders:
        """Rebuild the book from :meth:`state`."""
        book = cls(not_found_confirmations, recv_window_ms)
        for tracked in state.orders:
            coid = tracked.order.client_order_id
            book._orders[coid] = tracked
            book._by_venue_client[tracked.venue_client_id] = coid
            if tracked.venue_order_id:
                book._by_venue_order[(tracked.order.request.symbol,
                                      tracked.venue_order_id)] = coid
        book._trade_order = list(state.trade_keys)
        book._trade_keys = set(state.trade_keys)
        book.external_trades = list(state.external_trades)
        return book
