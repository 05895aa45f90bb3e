"""The emulated venue: clock, replayed market, account books and the matching engine.

Everything that changes state happens under one lock, so the HTTP threads, tests and the
clock control can call concurrently. Before any request is answered the venue catches up
with its clock (:meth:`Venue.sync`): every bar that closed since the last call is walked in
time order — resting and stop orders are matched against the bar's range (the stop leg of
an OCO first: the conservative order the backtester uses), then market quantities waiting
for the next open (partial and delayed fills) fill there. The fill rules are in
:mod:`actors.emulator.matching`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors.emulator.clock import VenueClock
from actors.emulator.config import EmulatorConfig
from actors.emulator.errors import (
    duplicate_order,
    insufficient_balance,
    new_order_rejected,
)
from actors.emulator.filters import check_notional, check_open_counts, floor_to_step
from actors.emulator.ledger import Ledger
from actors.emulator.market import Market, Series
from actors.emulator.matching import FillModel, evaluate, marketable, would_trigger
from actors.emulator.order_entry import NewOrder
from actors.emulator.orders import STOP_TYPES, Order, OrderList, Reservation, Trade


@dataclass(frozen=True)
class OrderEffects:
    """What fault rules do to one new order.

    Attributes:
        fraction: Share of the quantity its first fill takes (partial_fill).
        delayed: A market order waits for the next bar's open (delayed_fill).
    """

    fraction: float | None = None
    delayed: bool = False


NO_EFFECTS = OrderEffects()


class Venue:
    """Clock + market + ledger + matching (see the module docstring).

    Args:
        config: The emulator's configuration.
        market: The replayed bars.
        clock: Venue time.
    """

    def __init__(self, config: EmulatorConfig, market: Market, clock: VenueClock) -> None:
        self.config, self.market, self.clock = config, market, clock
        self.lock = threading.RLock()
        self.model = FillModel(config.costs)
        self.specs = {s.market_id: config.spec(s.symbol) for s in market.series.values()}
        self.ledger = Ledger(config.balances, market.assets(), config.seed)
        now = clock.now_ms()
        self._processed = {mid: market.closed_count(s, now) for mid, s in market.series.items()}
        self._fee_lock = max(self.model.maker, self.model.taker)

    # --- time ------------------------------------------------------------------------------

    def sync(self) -> int:
        """Match every bar closed since the last call; returns venue time."""
        with self.lock:
            now = self.clock.now_ms()
            for market_id, series in self.market.series.items():
                closed = self.market.closed_count(series, now)
                for j in range(self._processed[market_id], closed):
                    self._bar(series, j, now)
                self._processed[market_id] = max(closed, self._processed[market_id])
            return now

    # --- new orders ------------------------------------------------------------------------

    def place(self, new: NewOrder, effects: OrderEffects = NO_EFFECTS,
              list_id: int = -1) -> tuple[Order, list[Trade]]:
        """Accept (or refuse) a new order; returns it and its immediate fills.

        Raises:
            BinanceError: Notional, balance, duplicate, open-count or trigger refusals.
        """
        with self.lock:
            now = self.sync()
            order = self._admit(new, now, effects, list_id)
            self._start(order, new, now, effects)
            return order, list(order.trades)

    def _admit(self, new: NewOrder, now: int, effects: OrderEffects, list_id: int) -> Order:
        series = new.series
        market_id = series.market_id
        if new.client_order_id is not None and \
                self.ledger.open_with_client_id(market_id, new.client_order_id):
            raise duplicate_order()
        open_orders = self.ledger.open_orders(market_id)
        algo = sum(1 for o in open_orders if o.type in STOP_TYPES)
        check_open_counts(new.spec, len(open_orders), algo, new.type in STOP_TYPES)
        k = self.market.closed_count(series, now)
        current = self.market.current_price(series, now)
        qty = new.qty
        if new.type == "MARKET" and qty is None:
            assert new.quote_qty is not None
            qty = self._qty_for_quote(new, series, k)
        assert qty is not None
        reference = new.price if new.price is not None else new.stop_price
        if reference is None:
            reference = current or 0.0
        notional = (new.qty_text if new.qty_text is not None else Decimal(repr(qty))) * \
            Decimal(repr(reference))
        check_notional(new.spec, notional, market=new.type == "MARKET")
        if current is not None:
            self._check_against_price(new, current)
        return Order(market_id, 0, new.client_order_id or "", new.side, new.type,
                     new.time_in_force, qty, new.price, new.stop_price, new.quote_qty, now,
                     update_time=now, working_time=-1 if new.type in STOP_TYPES else now,
                     order_list_id=list_id, placed_bar=k, rest_from=k,
                     first_fraction=effects.fraction)

    def _qty_for_quote(self, new: NewOrder, series: Series, k: int) -> float:
        if k >= len(series):
            return 0.0
        o = float(series.open[k])
        assert new.quote_qty is not None
        estimate = self.model.taker_price(o, new.is_buy, new.quote_qty / o,
                                          self._ref_volume(series, k))
        qty = floor_to_step(new.quote_qty / estimate, new.spec.step_size)
        if qty < float(new.spec.min_qty):
            raise new_order_rejected("Filter failure: LOT_SIZE")
        return qty

    @staticmethod
    def _check_against_price(new: NewOrder, current: float) -> None:
        if new.type == "LIMIT_MAKER" and new.price is not None and \
                marketable(new.is_buy, new.price, current):
            raise new_order_rejected("Order would immediately match and take.")
        if new.type in STOP_TYPES and new.stop_price is not None and \
                would_trigger(new.type, new.is_buy, new.stop_price, current):
            raise new_order_rejected("Stop price would trigger immediately.")

    def _start(self, order: Order, new: NewOrder, now: int, effects: OrderEffects) -> None:
        """Fill what fills now, reserve what rests, record the order (nothing before checks)."""
        series = new.series
        k = order.placed_bar
        if order.type == "MARKET":
            self._start_market(order, series, k, now, effects)
            return
        if order.type == "LIMIT" and k < len(series) and order.price is not None and \
                marketable(order.is_buy, order.price, float(series.open[k])):
            self._start_marketable_limit(order, series, k, now)
            return
        if order.type == "LIMIT" and order.time_in_force in ("IOC", "FOK"):
            self._record(order, "EXPIRED")
            return
        order.reservation = self._reserve(order, order.qty)
        self._record(order, "NEW")

    def _start_market(self, order: Order, series: Series, k: int, now: int,
                      effects: OrderEffects) -> None:
        if k >= len(series) or order.qty <= 0.0:
            self._record(order, "EXPIRED")
            return
        ref = self._ref_volume(series, k)
        first = 0.0 if effects.delayed else self._first_qty(order, order.qty, ref,
                                                            series.market_id)
        o = float(series.open[k])
        price = self.model.taker_price(o, order.is_buy, first, ref) if first > 0 else o
        fee_first = first * price * self.model.taker
        rest = order.qty - first
        if order.is_buy:
            cost = first * price + (0.0 if self.config.buy_fee_in_base else fee_first)
            need = cost + self._buy_lock(rest, o * (1.0 + self.model.max_slippage))
            if need > self.ledger.balance(series.quote)[0]:
                raise insufficient_balance()
        elif order.qty > self.ledger.balance(series.base)[0]:
            raise insufficient_balance()
        self._record(order, "NEW")
        if first > 0:
            self._book(order, series, first, price, False, now)
        if order.remaining > 0.0:  # checked above; capped against float rounding
            order.reservation = self._reserve(order, order.remaining, base_price=o * (
                1.0 + self.model.max_slippage), cap=True)
            order.due_bar = k + 1

    def _start_marketable_limit(self, order: Order, series: Series, k: int, now: int) -> None:
        assert order.price is not None
        ref = self._ref_volume(series, k)
        first = self._first_qty(order, order.qty, ref, series.market_id)
        if order.time_in_force == "FOK" and first < order.qty:
            self._record(order, "EXPIRED")
            return
        o = float(series.open[k])
        price = self.model.taker_price(o, order.is_buy, first, ref)
        price = min(price, order.price) if order.is_buy else max(price, order.price)
        reservation = self._reserve(order, order.qty)
        self._record(order, "NEW")
        order.reservation = reservation
        self._book(order, series, first, price, False, now)
        if order.is_open:
            if order.time_in_force == "IOC":
                self._finish(order, "EXPIRED", now)
            else:
                order.rest_from = k + 1

    def _first_qty(self, order: Order, qty: float, volume: float, market_id: str) -> float:
        """What the next fill takes: the partial_fill share (first fill only), the cap."""
        step = self.specs[market_id].step_size
        if order.first_fraction is not None:
            part = floor_to_step(qty * order.first_fraction, step)
            if 0.0 < part < qty:
                qty = part
        cap = self.config.max_participation
        if cap is not None:
            qty = min(qty, floor_to_step(cap * volume, step))
        return qty

    def _buy_lock(self, qty: float, price: float) -> float:
        fee = 0.0 if self.config.buy_fee_in_base else self._fee_lock
        return qty * price * (1.0 + fee)

    def _reserve(self, order: Order, qty: float, base_price: float | None = None,
                 cap: bool = False) -> Reservation:
        """Lock what a working order needs: the base to sell, or the quote (fee included)."""
        series = self.market.series[order.symbol]
        if not order.is_buy:
            return self.ledger.reserve(series.base, qty, cap=cap)
        if base_price is None:
            if order.price is not None:
                base_price = order.price
            else:
                assert order.stop_price is not None
                base_price = order.stop_price * (1.0 + self.model.max_slippage)
        return self.ledger.reserve(series.quote, self._buy_lock(qty, base_price), cap=cap)

    def _record(self, order: Order, status: str) -> None:
        order.order_id = self.ledger.next_order_id(order.symbol)
        if not order.client_order_id:
            order.client_order_id = self.ledger.generated_client_id()
        order.status = status
        self.ledger.add(order)
        self.ledger.update_ms = order.time

    # --- fills -----------------------------------------------------------------------------

    def _book(self, order: Order, series: Series, qty: float, price: float, maker: bool,
              time: int) -> Trade:
        """Book one fill: balances, the trade, the order's status."""
        ledger, rate = self.ledger, self.model.maker if maker else self.model.taker
        reservation = order.reservation
        if order.is_buy and self.config.buy_fee_in_base:
            fee, fee_asset = qty * rate, series.base
            ledger.spend(series.quote, qty * price, reservation)
            ledger.credit(series.base, qty - fee)
        else:
            fee, fee_asset = qty * price * rate, series.quote
            dq = qty if order.is_buy else -qty
            if order.is_buy:
                ledger.spend(series.quote, dq * price + fee, reservation)
                ledger.credit(series.base, qty)
            else:
                ledger.spend(series.base, qty, reservation)
                ledger.credit(series.quote, -(dq * price + fee))
        trade = Trade(series.market_id, ledger.next_trade_id(series.market_id), order.order_id,
                      order.order_list_id, price, qty, fee, fee_asset, time, order.is_buy, maker)
        ledger.trades.append(trade)
        order.trades.append(trade)
        order.executed += qty
        order.cum_quote += qty * price
        order.first_fraction = None
        order.update_time = max(order.update_time, time)
        ledger.update_ms = max(ledger.update_ms, time)
        if order.remaining <= 1e-12 * max(order.qty, 1.0):
            self._finish(order, "FILLED", time)
        else:
            order.status = "PARTIALLY_FILLED"
        return trade

    def _finish(self, order: Order, status: str, time: int) -> None:
        order.status = status
        order.update_time = max(order.update_time, time)
        order.due_bar = None
        self.ledger.closed(order)
        self._expire_siblings(order, time)

    # --- bars ------------------------------------------------------------------------------

    def _bar(self, series: Series, j: int, now: int) -> None:
        """Walk bar ``j``: resting and stop orders, then market quantities due at ``j + 1``."""
        done_lists: set[int] = set()
        for order in self.ledger.open_orders(series.market_id):
            if not order.is_open or order.due_bar is not None or order.rest_from > j:
                continue
            if order.order_list_id < 0:
                self._rest_bar(order, series, j)
                continue
            if order.order_list_id in done_lists:
                continue
            done_lists.add(order.order_list_id)
            legs = self.ledger.lists[order.order_list_id].orders  # below leg first
            for leg in legs if not order.is_buy else legs[::-1]:  # the conservative path
                if leg.is_open and leg.due_bar is None and leg.rest_from <= j:
                    self._rest_bar(leg, series, j)
        for order in self.ledger.open_orders(series.market_id):
            if order.due_bar == j + 1:
                self._fill_due(order, series, j + 1, now)

    def _rest_bar(self, order: Order, series: Series, j: int) -> None:
        o, h, low = float(series.open[j]), float(series.high[j]), float(series.low[j])
        qty = self._first_qty(order, order.remaining, float(series.volume[j]), series.market_id)
        fill = evaluate(order, o, h, low, qty, self._ref_volume(series, j), self.model)
        open_ms, close_ms = int(series.ts[j]), int(series.ts[j]) + self.market.tf_ms - 1
        time = open_ms if fill.at_open else close_ms
        if order.type in STOP_TYPES and not order.triggered and (
                fill.rest or fill.price is not None):
            order.triggered, order.working_time = True, time
            self._expire_siblings(order, time)
        if fill.rest:
            order.rest_from = j + 1
            return
        if fill.price is None:
            return
        if qty > 0.0:
            self._book(order, series, qty, fill.price, fill.maker, time)
        if order.is_open:  # a partial fill: the rest from the next bar
            if order.type in ("STOP_LOSS", "TAKE_PROFIT"):
                order.due_bar = j + 1  # a triggered stop is a market order
            order.rest_from = j + 1

    def _expire_siblings(self, order: Order, time: int) -> None:
        if order.order_list_id < 0:
            return
        order_list = self.ledger.lists[order.order_list_id]
        for other in order_list.orders:
            if other is not order and other.is_open:
                self._finish(other, "EXPIRED", time)
        order_list.refresh()

    def _fill_due(self, order: Order, series: Series, d: int, now: int) -> None:
        """A pending market quantity at the open of bar ``d``."""
        if d >= len(series):
            self._finish(order, "EXPIRED", now)
            return
        ref = float(series.volume[d - 1])
        qty = self._first_qty(order, order.remaining, ref, series.market_id)
        o = float(series.open[d])
        time = min(max(int(series.ts[d]), order.time), now)
        price = self.model.taker_price(o, order.is_buy, qty, ref)
        if order.is_buy and qty > 0:
            fee = 0.0 if self.config.buy_fee_in_base else qty * price * self.model.taker
            held = order.reservation.amount if order.reservation is not None else 0.0
            available = held + self.ledger.balance(series.quote)[0]
            if qty * price + fee > available:
                qty = floor_to_step(available / (price * (1.0 + self.model.taker)),
                                    self.specs[series.market_id].step_size)
                if qty <= 0.0:
                    self._finish(order, "EXPIRED", time)
                    return
                price = self.model.taker_price(o, order.is_buy, qty, ref)
        if qty > 0.0:
            self._book(order, series, qty, price, False, time)
        if order.is_open:
            order.due_bar = d + 1

    def _ref_volume(self, series: Series, k: int) -> float:
        return float(series.volume[k - 1]) if k > 0 else 0.0

    # --- cancels ---------------------------------------------------------------------------

    def cancel(self, order: Order) -> list[Order]:
        """Cancel an open order (and the rest of its order list); returns what was canceled."""
        with self.lock:
            now = self.sync()
            if not order.is_open:
                return []
            legs = [order]
            if order.order_list_id >= 0:
                legs = [o for o in self.ledger.lists[order.order_list_id].orders if o.is_open]
            for leg in legs:
                leg.status = "CANCELED"
                leg.update_time = now
                leg.due_bar = None
                self.ledger.closed(leg)
            if order.order_list_id >= 0:
                self.ledger.lists[order.order_list_id].refresh()
            self.ledger.update_ms = now
            return legs

    # --- order lists -----------------------------------------------------------------------

    def place_list(self, legs: list[NewOrder], list_client_id: str | None, effects: OrderEffects
                   ) -> OrderList:
        """Accept an OCO: both legs share one reservation (see :mod:`actors.emulator.oco`).

        Raises:
            BinanceError: As :meth:`place` for either leg.
        """
        with self.lock:
            now = self.sync()
            orders = [self._admit(new, now, effects, -1) for new in legs]
            if orders[0].client_order_id and \
                    orders[0].client_order_id == orders[1].client_order_id:
                raise duplicate_order()
            series = legs[0].series
            check_open_counts(legs[0].spec, len(self.ledger.open_orders(series.market_id)),
                              sum(1 for o in self.ledger.open_orders(series.market_id)
                                  if o.type in STOP_TYPES),
                              any(o.type in STOP_TYPES for o in orders), new_orders=2)
            if orders[0].is_buy:
                amount = max(self._buy_lock(o.qty, o.price if o.price is not None else
                                            (o.stop_price or 0.0) * (
                                                1.0 + self.model.max_slippage))
                             for o in orders)
                reservation = self.ledger.reserve(series.quote, amount, holders=2)
            else:
                reservation = self.ledger.reserve(series.base, orders[0].qty, holders=2)
            list_id = self.ledger.next_list_id()
            for order in orders:
                order.reservation, order.order_list_id = reservation, list_id
                self._record(order, "NEW")
            order_list = OrderList(series.market_id, list_id,
                                   list_client_id or self.ledger.generated_client_id(),
                                   orders, now)
            self.ledger.lists[list_id] = order_list
            return order_list

    # --- views -----------------------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        """Binance's ``GET /api/v3/account`` answer."""
        with self.lock:
            now = self.sync()
            maker, taker = self.model.maker, self.model.taker
            return {
                "makerCommission": round(maker * 10_000), "takerCommission": round(taker * 10_000),
                "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": f"{maker:.8f}", "taker": f"{taker:.8f}",
                                    "buyer": "0.00000000", "seller": "0.00000000"},
                "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False,
                "updateTime": self.ledger.update_ms or now, "accountType": "SPOT",
                "balances": self.ledger.balances_json(), "permissions": ["SPOT"],
                "uid": 100000001,
            }

