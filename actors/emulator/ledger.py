"""The venue's books: balances (free / locked per asset), orders, order lists and trades.

Not thread-safe by itself: the :class:`~actors.emulator.venue.Venue` holds its lock around
every use. Balance arithmetic is the backtester's: a fill of signed quantity ``dq`` at
``price`` with ``fee`` (in the quote asset) changes the quote balance by
``-(dq * price + fee)``, exactly as ``core.backtest.fills.apply_fill`` changes its cash.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from typing import Any

from actors.emulator.errors import insufficient_balance
from actors.emulator.orders import Order, OrderList, Reservation, Trade
from actors.emulator.params import fmt

_ID_CHARS = string.ascii_letters + string.digits


class Ledger:
    """Balances, orders and trades of the one emulated account.

    Args:
        balances: Free balance per asset at start.
        assets: Assets always reported (zero when not funded).
        seed: Seed of the ids the venue generates (client order ids it is not given).
    """

    def __init__(self, balances: dict[str, float], assets: Iterable[str], seed: int) -> None:
        self.free: dict[str, float] = {a: 0.0 for a in assets}
        self.locked: dict[str, float] = {a: 0.0 for a in self.free}
        for asset, amount in balances.items():
            self.free[asset] = float(amount)
            self.locked.setdefault(asset, 0.0)
        self.orders: dict[tuple[str, int], Order] = {}
        self.open: dict[str, dict[int, Order]] = {}
        self.by_client: dict[tuple[str, str], list[int]] = {}
        self.lists: dict[int, OrderList] = {}
        self.trades: list[Trade] = []
        self.update_ms = 0
        self._order_seq: dict[str, int] = {}
        self._trade_seq: dict[str, int] = {}
        self._list_seq = 0
        self._ids = random.Random(seed)

    # --- ids -------------------------------------------------------------------------------

    def next_order_id(self, symbol: str) -> int:
        """The next order id of ``symbol`` (1, 2, ...)."""
        self._order_seq[symbol] = self._order_seq.get(symbol, 0) + 1
        return self._order_seq[symbol]

    def next_trade_id(self, symbol: str) -> int:
        """The next trade id of ``symbol``."""
        self._trade_seq[symbol] = self._trade_seq.get(symbol, 0) + 1
        return self._trade_seq[symbol]

    def next_list_id(self) -> int:
        """The next order list id."""
        self._list_seq += 1
        return self._list_seq

    def generated_client_id(self) -> str:
        """A 22-character id like the ones Binance generates (seeded, so reproducible)."""
        return "".join(self._ids.choice(_ID_CHARS) for _ in range(22))

    # --- orders ----------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Record a new order (open or already finished)."""
        self.orders[(order.symbol, order.order_id)] = order
        self.by_client.setdefault((order.symbol, order.client_order_id), []).append(
            order.order_id)
        if order.is_open:
            self.open.setdefault(order.symbol, {})[order.order_id] = order

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        """An order by id, or the newest one with that client id (both must agree if given)."""
        if order_id is not None:
            order = self.orders.get((symbol, order_id))
            if order is not None and client_id is not None and \
                    order.client_order_id != client_id:
                return None
            return order
        ids = self.by_client.get((symbol, client_id or ""))
        return self.orders[(symbol, ids[-1])] if ids else None

    def open_with_client_id(self, symbol: str, client_id: str) -> bool:
        """Whether an open order already uses ``client_id``."""
        return any(self.orders[(symbol, i)].is_open
                   for i in self.by_client.get((symbol, client_id), ()))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of one symbol or all), by symbol then id."""
        symbols = [symbol] if symbol is not None else sorted(self.open)
        return [o for s in symbols for o in sorted(self.open.get(s, {}).values(),
                                                    key=lambda o: o.order_id)]

    def symbol_orders(self, symbol: str) -> list[Order]:
        """Every order of ``symbol`` by id."""
        return sorted((o for (s, _), o in self.orders.items() if s == symbol),
                      key=lambda o: o.order_id)

    def closed(self, order: Order) -> None:
        """Take a finished order off the open book and release what it no longer needs."""
        self.open.get(order.symbol, {}).pop(order.order_id, None)
        reservation = order.reservation
        if reservation is not None:
            order.reservation = None
            reservation.holders -= 1
            if reservation.holders <= 0:
                self.release(reservation)

    # --- balances --------------------------------------------------------------------------

    def balance(self, asset: str) -> tuple[float, float]:
        """(free, locked) of ``asset``."""
        return self.free.get(asset, 0.0), self.locked.get(asset, 0.0)

    def reserve(self, asset: str, amount: float, holders: int = 1, cap: bool = False
                ) -> Reservation:
        """Lock ``amount`` of free ``asset`` (with ``cap``, at most what is free).

        Raises:
            BinanceError: -2010 insufficient balance (never with ``cap``).
        """
        free = self.free.get(asset, 0.0)
        if cap:
            amount = max(min(amount, free), 0.0)
        if amount > free:
            raise insufficient_balance()
        self.free[asset] = free - amount
        self.locked[asset] = self.locked.get(asset, 0.0) + amount
        return Reservation(asset, amount, holders)

    def release(self, reservation: Reservation) -> None:
        """Return what is still locked to free."""
        amount, reservation.amount = reservation.amount, 0.0
        if amount > 0.0:
            asset = reservation.asset
            self.locked[asset] = max(self.locked.get(asset, 0.0) - amount, 0.0)
            self.free[asset] = self.free.get(asset, 0.0) + amount

    def spend(self, asset: str, amount: float, reservation: Reservation | None) -> None:
        """Take ``amount`` of ``asset``: from the reservation first, then from free."""
        if reservation is not None and reservation.asset == asset and reservation.amount > 0.0:
            taken = min(amount, reservation.amount)
            reservation.amount -= taken
            self.locked[asset] = max(self.locked.get(asset, 0.0) - taken, 0.0)
            amount -= taken
            if amount <= 0.0:
                return
        self.free[asset] = self.free.get(asset, 0.0) - amount

    def credit(self, asset: str, amount: float) -> None:
        """Add ``amount`` to free ``asset``."""
        self.free[asset] = self.free.get(asset, 0.0) + amount

    # --- views -----------------------------------------------------------------------------

    def balances_json(self) -> list[dict[str, str]]:
        """Binance's ``balances`` array of the account answer (every known asset)."""
        return [{"asset": a, "free": fmt(self.free.get(a, 0.0)),
                 "locked": fmt(self.locked.get(a, 0.0))} for a in sorted(self.free)]

    def snapshot(self) -> dict[str, Any]:
        """Balances, orders, order lists and trades as JSON-ready data."""
        return {
            "balances": {a: {"free": fmt(self.free.get(a, 0.0)),
                             "locked": fmt(self.locked.get(a, 0.0))} for a in sorted(self.free)},
            "orders": [o.ledger_json() for _, o in sorted(self.orders.items())],
            "order_lists": [lst.to_json() for _, lst in sorted(self.lists.items())],
            "trades": [t.to_json() for t in self.trades],
        }
