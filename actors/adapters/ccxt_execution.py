"""The ccxt execution client: a real venue account behind the executor.

:class:`CcxtExecutionClient` implements :class:`~core.trading.execution.ExecutionClient` over a
ccxt exchange (Binance spot; the local emulator in tests and offline runs). The pure rules live
in ``core``: orders are shaped to the venue's lot, tick and notional rules before they leave
(:mod:`core.trading.venue_rules`: a quantity that rounds to nothing is a recorded REJECTED
update with its reason, never an exception), the venue client id is salted with the session
(:mod:`core.trading.venue_ids`), and the order book is driven by the venue's answers
(:mod:`core.trading.venue_orders`). This module does the talking:

- **One order per client id.** A create is sent once. Only an answer that proves the venue
  did not process it is followed by a resend of the same id: 429/418 (rate limited) and -1021
  (timestamp refused, after a clock resync). Anything else without a definite answer
  (timeout, dropped connection, 5xx, -1006/-1007) leaves the order UNKNOWN; it is looked up
  by client id, at once and at every :meth:`CcxtExecutionClient.poll`, never resent. A
  duplicate-id answer (-2010) is looked up too: the venue has it.
- **Intent before send.** ``before_send(request, sent_ms)`` is called before a create leaves
  (the executor makes it durable); a client restored from an older state is told those ids
  (:meth:`CcxtExecutionClient.recover_intents`) and looks them up before anything is sent.
- **Retries** only for temporary errors of reads and cancels, with capped exponential backoff
  and seeded jitter; rate limits follow the venue's own headers
  (:class:`~core.trading.rate_limits.VenueRateLimiter`) and ``Retry-After``.
- **Fills from trades.** Fills come from the venue's trade list (the create's ``FULL`` answer
  first, ``fetch_my_trades`` as the authority), one per trade id; fees are converted to the
  quote asset.
- **Stops on the venue.** A position with a stop-loss or take-profit gets an exchange-native
  protective order (an OCO list for both) after every fill that changes it, so it works while
  our processes are down (:mod:`core.trading.venue_protection`,
  :mod:`actors.adapters.ccxt_protection`). A leg that trades is announced as an exit order the
  venue created (kind ``stop_loss`` / ``take_profit``), whenever its trade is read. An order
  that may reduce a position first cancels its protection (a spot venue locks the asset).
  Cancels of working orders (end of session, kill switch) leave protections in place.
"""

from __future__ import annotations

import dataclasses
import random
import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from actors.adapters.ccxt_calls import VenueCaller
from actors.adapters.ccxt_client_values import (
    OUTCOME_UNKNOWN,
    VenueClientPolicy,
    VenueClientState,
    VenueView,
)
from actors.adapters.ccxt_protection import ProtectionDesk
from actors.adapters.ccxt_venue import answer_trades, market_rules, order_report, venue_trade
from core.errors import (
    DuplicateOrderError,
    OrderNotFoundError,
    OrderRejectedError,
    PermanentExchangeError,
    TemporaryExchangeError,
)
from core.trading.execution import AccountReport, EventPage, ExecutionEvent, page_since
from core.trading.messages import Fill, OrderRequest, OrderStatus, OrderUpdate
from core.trading.venue_adopt import Adoption
from core.trading.venue_ids import venue_client_order_id
from core.trading.venue_orders import (
    VenueOrderReport,
    VenueOrders,
    VenueTrade,
)
from core.trading.venue_protection import (
    Cancel,
    Place,
    Protection,
    ProtectiveLeg,
    VenueProtections,
)
from core.trading.venue_rules import MarketRules, RuleDenial, shape_order


def _wall_ms() -> int:
    return int(time.time() * 1000)


class CcxtExecutionClient:
    """A venue account through ccxt (see the module doc).

    Args:
        exchange: A ccxt exchange with credentials, markets not yet loaded.
        session_salt: The session id (salts the venue client ids).
        symbols: Traded symbols (unified).
        timeframe_ms: Bar length: events carry the open time of the bar they happened in.
        policy: Retries, lookups and limits.
        state: A snapshot to continue from (None: a new account view).
        before_send: Called with the request and the send time before a create leaves.
        clock_ms: The venue's time in ms (the session clock; the wall clock against a real
            venue). Signed requests carry it as their timestamp.
        sleep: Sleep function (injected in tests).
        default_stops: ``(stop-loss, take-profit)`` fractions of orders that name none (the
            configuration's); positions with stops get exchange-native protective orders.
    """

    def __init__(self, exchange: Any, session_salt: str, symbols: Sequence[str],
                 timeframe_ms: int, policy: VenueClientPolicy | None = None,
                 state: VenueClientState | None = None,
                 before_send: Callable[[OrderRequest, int], None] | None = None,
                 clock_ms: Callable[[], int] = _wall_ms,
                 sleep: Callable[[float], None] = time.sleep,
                 default_stops: tuple[float, float] = (0.0, 0.0)) -> None:
        self.policy = policy or VenueClientPolicy()
        self._ex = exchange
        self._salt = session_salt
        self.symbols = tuple(symbols)
        self.timeframe_ms = int(timeframe_ms)
        self._before_send = before_send
        self._now = clock_ms
        self._sleep = sleep
        self.caller = VenueCaller(exchange, self.policy, clock_ms, sleep,
                                  random.Random(zlib.crc32(session_salt.encode())))
        self._rules: dict[str, MarketRules] = {}
        self._events: deque[tuple[int, ExecutionEvent]] = deque(
            maxlen=self.policy.event_capacity)
        if state is None:
            self.orders = VenueOrders(self.policy.not_found_confirmations,
                                      self.policy.recv_window_ms)
            self._last_trade: dict[str, int] = {}
            self._last_event = 0
        else:
            self.orders = VenueOrders.from_state(state.orders,
                                                 self.policy.not_found_confirmations,
                                                 self.policy.recv_window_ms)
            self._last_trade = dict(state.last_trade_ids)
            self._last_event = state.last_event
            self._events.extend(state.events)
        protect = (session_salt, default_stops, self.policy.not_found_confirmations,
                   self.policy.recv_window_ms)
        self.protections = (VenueProtections(*protect)
                            if state is None or state.protections is None
                            else VenueProtections.from_state(state.protections, *protect))
        self.desk = ProtectionDesk(exchange, self.caller, self.rules, self.protections,
                                   clock_ms, self._leg_traded, self._level_crossed,
                                   self.mark_price)
        self._restored = state is not None
        self._announced: list[str] = []
        self._external_open = set(state.external_open) if state is not None else set()
        self._ex.options["recvWindow"] = self.policy.recv_window_ms
        self._ex.nonce = clock_ms
        self._started = False

    # --- set-up ----------------------------------------------------------------------------

    def rules(self, symbol: str) -> MarketRules:
        """The venue's rules for ``symbol`` (markets are loaded on first use).

        Raises:
            PermanentExchangeError: The venue does not list ``symbol``.
        """
        if not self._rules:
            markets = self.caller.call("load_markets", self._ex.load_markets, weight=20)
            for name in self.symbols:
                if name not in markets:
                    raise PermanentExchangeError(f"the venue does not list {name}")
                self._rules[name] = market_rules(markets[name])
        return self._rules[symbol]

    def state(self, keep_after: int | None = None) -> VenueClientState:
        """The durable state (see :class:`VenueClientState`).

        Args:
            keep_after: Keep the events numbered above it (the ones the caller has not
                consumed yet) in the state; None keeps none.
        """
        kept = () if keep_after is None else tuple(
            (n, e) for n, e in self._events if n > keep_after)
        return VenueClientState(self.orders.state(), tuple(sorted(self._last_trade.items())),
                                self._last_event, kept, self.protections.state(),
                                tuple(sorted(self._external_open)))

    def start(self) -> None:
        """Load the markets and, for a new account view, note each symbol's newest trade.

        Trades up to that one predate the session; later ones are ours or external. Done
        before anything is sent (every public operation calls it first).
        """
        if self._started:
            return
        for symbol in self.symbols:
            self.rules(symbol)
            if symbol not in self._last_trade:
                newest = self.caller.call(f"fetch_my_trades {symbol}",
                                    lambda s=symbol: self._ex.fetch_my_trades(s, None, 1),
                                    weight=20)
                self._last_trade[symbol] = max((int(t["id"]) for t in newest), default=-1)
        self._started = True

    def recover_intents(self, intents: Sequence[tuple[OrderRequest, int]]
                        ) -> list[OrderUpdate]:
        """Creates that may have left after the state was saved: look them up first.

        Args:
            intents: ``(request, sent_ms)`` of each id passed to ``before_send`` that the
                state may not know.

        Returns:
            The updates the lookups caused (an id the venue does not have stays UNKNOWN until
            it is declared not placed: it is never sent again).
        """
        self.start()
        updates: list[OrderUpdate] = []
        for request, sent_ms in intents:
            coid = request.client_order_id
            if self.orders.get(coid) is not None:
                continue
            self.orders.sending(request, venue_client_order_id(self._salt, coid), sent_ms)
            updates += self._resolve(coid, attempts=1)
        return updates

    # --- the contract ----------------------------------------------------------------------

    def submit(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate]:
        """See :meth:`~core.trading.execution.ExecutionClient.submit` and the module doc."""
        self.start()
        answers: list[OrderUpdate] = []
        for request in requests:
            coid = request.client_order_id
            if self.orders.get(coid) is None:
                self._free_for(request)
                self._create(request)
            answers.append(self._answer(coid))
        self.protect()
        return answers

    def cancel(self, client_order_ids: Sequence[str] | None, ts: int, reason: str
               ) -> list[OrderUpdate]:
        """Cancel working orders by client id (None: every working one)."""
        self.start()
        ids = ([t.order.client_order_id for t in self.orders.working()]
               if client_order_ids is None else list(client_order_ids))
        updates: list[OrderUpdate] = []
        for coid in ids:
            tracked = self.orders.get(coid)
            if tracked is None or not tracked.order.is_working:
                continue
            symbol = tracked.order.request.symbol
            params = {"origClientOrderId": tracked.venue_client_id}
            try:
                answer = self.caller.call(f"cancel_order {symbol}",
                                    lambda s=symbol, p=params: self._ex.cancel_order(None, s, p))
            except OrderNotFoundError:  # finished meanwhile: learn how
                updates += self._resolve(coid, attempts=1)
                continue
            updates += self._emit_updates(self.orders.report(self._report(answer, symbol),
                                                             reason=reason), [])
        return updates

    def refuse(self, requests: Sequence[OrderRequest], reason: str) -> list[OrderUpdate]:
        """Record requests that must not leave (the account is halted): REJECTED, unsent.

        An id already sent keeps its status (a retry of a step sent before the halt).
        """
        answers: list[OrderUpdate] = []
        for request in requests:
            coid = request.client_order_id
            if self.orders.get(coid) is None:
                self.orders.sending(request, venue_client_order_id(self._salt, coid),
                                    self._now())
                self._emit_updates(self.orders.rejected(coid, request.ts, reason), [])
            answers.append(self._answer(coid))
        return answers

    def poll(self, trades: bool = True) -> list[ExecutionEvent]:
        """Ask the venue about every unresolved or working order (and the new trades).

        Args:
            trades: Also read the account's new trades on every symbol.

        Returns:
            The events this produced (also numbered for :meth:`events_since`).
        """
        self.start()
        first = self._last_event
        updates: list[OrderUpdate] = []
        for tracked in self.orders.needing_query():
            updates += self._lookup(tracked.order.client_order_id)
        fills = self._read_trades() if trades else []
        self._emit_updates(updates + self._look_up_announced(), fills)
        self.protect()
        return [event for n, event in self._events if n > first]

    # --- exchange-native stops -------------------------------------------------------------

    def protect(self) -> None:
        """Bring the venue's protective orders to what the positions need.

        See :mod:`core.trading.venue_protection`. After a restart, each placement is first
        looked up by its client id (the last life may have sent it).
        """
        self.start()
        self.desk.resolve()
        for _ in range(2):  # a replaced protection: cancelled first, then placed anew
            actions = self.protections.plan(self.rules, self._exit_working, self._now())
            self.desk.run(actions, look_first=self._restored)
            if any(isinstance(a, Place) for a in actions):
                self._restored = False
            if not any(isinstance(a, Cancel) for a in actions):
                break

    def _free_for(self, request: OrderRequest) -> None:
        """Cancel protections that hold what ``request`` may need (an exit on a spot venue)."""
        if any(p.symbol == request.symbol and p.levels.exit_side is request.side
               for p in self.protections.live()):
            self.desk.run(self.protections.cancels_before_exit(request.symbol))

    def _exit_working(self, client_order_id: str) -> bool:
        tracked = self.orders.get(client_order_id)
        return tracked is not None and tracked.needs_query

    def _leg_traded(self, protection: Protection, leg: ProtectiveLeg, venue_order_id: str,
                    venue_ms: int) -> None:
        """A protective leg traded: announce the exit the venue made, then track it."""
        bar = self._bar(venue_ms)
        request = self.protections.triggered(protection, leg, bar)
        self._emit(request)
        self.orders.sending(request, leg.venue_client_id, self._now())
        report = VenueOrderReport(leg.venue_client_id, venue_order_id, protection.symbol,
                                  "NEW", 0.0, bar)
        self._emit_updates(self.orders.report(report, ack_ts=bar), [])
        self._announced.append(request.client_order_id)

    def _level_crossed(self, protection: Protection) -> None:
        """The price is already past a level of a new protection: exit at market now."""
        try:
            kind = self.desk.crossed_kind(protection)
        except TemporaryExchangeError:
            kind = "stop_loss"  # the conservative reading (a long's stop comes first)
        leg = next(leg for leg in protection.legs if leg.kind == kind)
        request = self.protections.triggered(protection, leg, self._bar(self._now()))
        self._emit(request)
        self._create(request)

    def _look_up_announced(self) -> list[OrderUpdate]:
        """Query the exits announced since the last call (their FILLED comes at once)."""
        updates: list[OrderUpdate] = []
        for coid in self._announced:
            updates += self._lookup(coid)
        self._announced.clear()
        return updates

    def venue_view(self) -> VenueView:
        """What reconciliation compares: balances, open orders, ours working, foreign trades."""
        self.start()
        balance = self.caller.call("fetch_balance", self._ex.fetch_balance, weight=20)
        totals = {str(k): float(v or 0.0) for k, v in (balance.get("total") or {}).items()}
        open_orders: list[tuple[str, str]] = []
        for symbol in self.symbols:
            listed = self.caller.call(f"fetch_open_orders {symbol}",
                                lambda s=symbol: self._ex.fetch_open_orders(s), weight=6)
            for order in listed:
                info = order.get("info") or {}
                open_orders.append((symbol, str(order.get("clientOrderId")
                                                or info.get("clientOrderId", ""))))
        working = [(t.order.request.symbol, t.venue_client_id) for t in self.orders.working()]
        working += self.protections.working_legs()
        self._external_open &= set(open_orders)  # adopted orders the venue finished are gone
        return VenueView(totals, tuple(open_orders), tuple(working),
                         tuple(self.orders.external_trades), tuple(sorted(self._external_open)))

    def adopt(self, adoption: Adoption) -> None:
        """Book what reconciliation adopted (:mod:`core.trading.venue_adopt`) as events."""
        for event in adoption.events:
            self._emit(event)
        self.orders.forget_external(adoption.trades)
        self._external_open |= set(adoption.external_open)

    def mark_price(self, symbol: str) -> float:
        """The venue's mid price of ``symbol`` now (0 when its book is empty)."""
        book = self.caller.call(f"fetch_order_book {symbol}",
                                lambda: self._ex.fetch_order_book(symbol, 5), weight=2)
        sides = [float(levels[0][0]) for levels in (book.get("bids"), book.get("asks"))
                 if levels]
        return sum(sides) / len(sides) if sides else 0.0

    def account(self) -> AccountReport:
        """Balances on the venue: quote cash and each symbol's base asset as a position."""
        balance = self.caller.call("fetch_balance", self._ex.fetch_balance, weight=20)
        totals = balance.get("total") or {}
        quote = self.rules(self.symbols[0]).quote
        held = {s: float(totals.get(self.rules(s).base) or 0.0) for s in self.symbols}
        positions = tuple(sorted((s, "", q) for s, q in held.items() if q))
        working = tuple(t.order.client_order_id for t in self.orders.working())
        return AccountReport(ts=None, index=-1, cash=float(totals.get(quote) or 0.0),
                             positions=positions, working=working,
                             last_event=self._last_event)

    def events_since(self, since: int) -> EventPage:
        """See :meth:`~core.trading.execution.ExecutionClient.events_since`."""
        return page_since(self._events, self._last_event, since)

    # --- orders ----------------------------------------------------------------------------

    def _create(self, request: OrderRequest) -> None:
        coid = request.client_order_id
        rules = self.rules(request.symbol)
        shaped = shape_order(request.quantity, request.reference_price, rules)
        venue_id = venue_client_order_id(self._salt, coid)
        self.orders.sending(request, venue_id, self._now())
        if isinstance(shaped, RuleDenial):
            self._emit_updates(self.orders.rejected(coid, request.ts, shaped.reason), [])
            return
        if self._before_send is not None:
            self._before_send(request, self.orders.get(coid).sent_ms)
        side = request.side.value.lower()
        params = {"newClientOrderId": venue_id, "newOrderRespType": "FULL"}
        try:
            answer = self.caller.call(
                f"create_order {request.symbol}",
                lambda: self._ex.create_order(request.symbol, "market", side, shaped.quantity,
                                              None, params),
                orders=1, retry=False)
        except DuplicateOrderError:
            self._resolve(coid, attempts=1)
        except OrderRejectedError as error:
            self._emit_updates(self.orders.rejected(coid, request.ts, error.reason), [])
        except PermanentExchangeError as error:
            reason = getattr(error, "reason", "") or "venue_error"
            self._emit_updates(self.orders.rejected(coid, request.ts, reason), [])
        except TemporaryExchangeError:
            self.orders.outcome_unknown(coid)
            self._resolve(coid, attempts=self.policy.resolve_attempts)
        else:
            # the answer acknowledges the decision taken at the close of the request's bar
            updates = self.orders.report(self._report(answer, request.symbol),
                                         ack_ts=request.ts)
            fills = self.orders.trades([self._on_bar(t) for t in answer_trades(answer, rules)])
            self._emit_updates(updates, fills)

    def _answer(self, coid: str) -> OrderUpdate:
        tracked = self.orders.get(coid)
        assert tracked is not None
        if tracked.unknown:
            return OrderUpdate(coid, tracked.order.request.ts, tracked.order.status,
                               tracked.order.filled_quantity, OUTCOME_UNKNOWN)
        return tracked.order.last_update()

    def _bar(self, ms: int) -> int:
        """Open time of the bar ``ms`` falls in (events carry bar times, as the paper's)."""
        return int(ms) - int(ms) % self.timeframe_ms

    def _on_bar(self, trade: VenueTrade) -> VenueTrade:
        return dataclasses.replace(trade, ts=self._bar(trade.ts))

    def _report(self, answer: dict[str, Any], symbol: str) -> VenueOrderReport:
        """A venue answer as a report stamped with its bar."""
        report = order_report(answer, symbol, self._now())
        return dataclasses.replace(report, ts=self._bar(report.ts))

    def _lookup(self, coid: str) -> list[OrderUpdate]:
        """One targeted query by client id; the updates it causes (not yet emitted)."""
        tracked = self.orders.get(coid)
        assert tracked is not None
        symbol = tracked.order.request.symbol
        params = {"origClientOrderId": tracked.venue_client_id}
        try:
            answer = self.caller.call(f"fetch_order {symbol}",
                                lambda: self._ex.fetch_order(None, symbol, params))
        except OrderNotFoundError:
            return self.orders.not_found(coid, self._now())  # venue ms, as sent_ms
        except TemporaryExchangeError:
            return []  # no answer is not "not found": asked again at the next poll
        return self.orders.report(self._report(answer, symbol),
                                  ack_ts=tracked.order.request.ts)

    def _resolve(self, coid: str, attempts: int) -> list[OrderUpdate]:
        """Look an order up now (up to ``attempts`` times while its outcome is unknown)."""
        updates: list[OrderUpdate] = []
        for attempt in range(max(1, attempts)):
            if attempt:
                self._sleep(self.policy.resolve_spacing_s)
            updates += self._lookup(coid)
            tracked = self.orders.get(coid)
            if tracked is not None and not tracked.unknown:
                break
        fills = self._read_trades() if updates else []
        return self._emit_updates(updates, fills)

    def _read_trades(self) -> list[Fill]:
        """The account's trades after the last one read, on every symbol, as fills.

        Read by trade id, page after page: however long the client was away, no time
        window can leave a trade (or a position's history) behind.
        """
        fills: list[Fill] = []
        page = self.policy.trades_page
        for symbol in self.symbols:
            rules = self.rules(symbol)
            while True:
                params = {"fromId": self._last_trade.get(symbol, -1) + 1}
                try:
                    trades = self.caller.call(f"fetch_my_trades {symbol}",
                                              lambda s=symbol, p=params: self._ex.
                                              fetch_my_trades(s, None, page, p), weight=20)
                except TemporaryExchangeError:
                    break
                parsed = [self._on_bar(venue_trade(t, rules)) for t in trades]
                if parsed:
                    self._last_trade[symbol] = max(int(t.trade_id) for t in parsed)
                for trade in parsed:
                    leg = self.protections.leg_of(symbol, trade.venue_order_id)
                    if leg is not None:
                        self._leg_traded(*leg, trade.venue_order_id, trade.ts)
                fills += self.orders.trades(parsed)
                if len(trades) < page:
                    break
        return fills

    # --- events ----------------------------------------------------------------------------

    def _emit(self, event: ExecutionEvent) -> None:
        self._last_event += 1
        self._events.append((self._last_event, event))

    def _emit_updates(self, updates: list[OrderUpdate], fills: list[Fill]
                      ) -> list[OrderUpdate]:
        """Emit acceptances, then fills, then the rest (fills precede FILLED)."""
        for update in updates:
            if update.status is OrderStatus.ACCEPTED:
                self._emit(update)
        for fill in fills:
            self._emit(fill)
            tracked = self.orders.get(fill.client_order_id)
            assert tracked is not None
            self.protections.on_fill(fill, tracked.order.request)
        for update in updates:
            if update.status is not OrderStatus.ACCEPTED:
                self._emit(update)
        return updates
