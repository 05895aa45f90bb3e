"""The pure paper broker: one cash balance, FIFO positions per (symbol, tag), working orders.

Orders fill with the backtester's fill model (``core.backtest``), calling its numba functions
with the parameter vector of the same :class:`~configs.backtest.BacktestConfig`, so a single
(symbol, tag) traded through the broker reproduces ``run_backtest`` bit for bit:

- an order decided at the close of a bar is sized there (``size_notional`` with the equity
  at that close) and fills at the next open: ``order_quantity`` at the open, slippage
  ``slippage_fraction(qty, volume of the decision bar, half-spread)``, buys clipped to the
  cash (the fee included), minimum notional, lot size, taker fee;
- stop-loss / take-profit are checked intrabar (``check_stops``: conservative order, gaps
  fill at the open, a take-profit pays the maker fee) from the position's average cost.

The cash is shared by every symbol and tag; targets are remembered per (strategy, symbol,
tag); working orders are keyed by client order id. Nothing here reads a clock or does I/O:
times come from the bars. :func:`core.trading.walk.walk_batch` drives the broker bar by bar.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

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
    P_TIME_STOP,
)
from core.backtest.params import build_params
from core.backtest.sizing import order_quantity, quantize, size_notional
from core.errors import ConfigError
from core.trading.lots import FifoPosition
from core.trading.messages import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionSnapshot,
    Side,
    Signal,
    client_order_id,
)
from core.trading.orders import Order

_PCT = 1e-2  # the same constant build_params uses, so stop fractions match bit for bit
Events = tuple[list[Fill], list[OrderUpdate]]


@dataclass(frozen=True, slots=True)
class BrokerState:
    """Everything a :class:`PaperBroker` needs to resume: a pickleable, copyable value.

    Attributes:
        config: The backtest configuration (fill model).
        symbols: The session's symbols.
        cash: Quote cash.
        positions: Positions (copies), sorted by (symbol, tag), flat ones included.
        orders: Working orders and orders finished at the last marked bar, in arrival
            order (older finished orders are dropped).
        working: Client order ids of the working orders, in arrival order.
        targets: ``((strategy_id, symbol, tag), target)`` pairs: the last target of each.
        last_close: Last marked close per symbol (NaN before the first bar).
        last_volume: Volume of the last marked bar per symbol.
        last_ts: Open time of the last marked bar, None before the first.
        last_index: Session index of the last marked bar (-1 before the first).
        risk: Effective risk limits capping order sizing (None = uncapped).
    """

    config: BacktestConfig
    symbols: tuple[str, ...]
    cash: float
    positions: tuple[FifoPosition, ...]
    orders: tuple[Order, ...]
    working: tuple[str, ...]
    targets: tuple[tuple[tuple[str, str, str], float], ...]
    last_close: tuple[float, ...]
    last_volume: tuple[float, ...]
    last_ts: int | None
    last_index: int
    risk: RiskLimits | None = None


class PaperBroker:
    """A simulated venue account with the backtester's fill model (see the module doc).

    Args:
        config: Costs, sizing, stops, filters and direction. ``vol_target`` sizing is not
            supported (the broker keeps no price history).
        symbols: The session's symbols.
        initial_cash: Starting cash; defaults to ``config.initial_cash``.
        risk: Effective risk limits; ``max_position_pct``, ``max_trade_pct`` and
            ``per_trade_risk_pct`` cap every order's size exactly as in
            ``run_backtest(..., risk=...)``. None leaves sizing uncapped.

    Attributes:
        config: The configuration (read-only).
        symbols: The session's symbols (read-only).
        allow_short: True for ``long_short`` configs.
        time_stop_bars: Bars after which a position is closed (0 = no time stop).
        last_ts: Open time of the last marked bar (None before the first).
        last_index: Session index of the last marked bar (-1 before the first).

    Raises:
        ConfigError: For ``vol_target`` sizing.
        ValueError: If ``symbols`` is empty or repeats a name.
    """

    def __init__(self, config: BacktestConfig, symbols: Sequence[str],
                 initial_cash: float | None = None, risk: RiskLimits | None = None) -> None:
        if config.sizing.method == "vol_target":
            raise ConfigError("PaperBroker does not support vol_target sizing; use "
                              "fixed_fraction or fixed_notional")
        names = tuple(symbols)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"symbols must be non-empty and unique, got {names}")
        self.config = config
        self._risk = risk
        self._p = build_params(config, risk)
        p = self._p
        self._taker, self._maker = float(p[P_TAKER_FEE]), float(p[P_MAKER_FEE])
        self._half_spread, self._lot = float(p[P_HALF_SPREAD]), float(p[P_LOT_SIZE])
        self._min_notional = float(p[P_MIN_NOTIONAL])
        self._stop_loss, self._take_profit = float(p[P_STOP_LOSS]), float(p[P_TAKE_PROFIT])
        self.allow_short, self.time_stop_bars = bool(p[P_ALLOW_SHORT] > 0.5), int(p[P_TIME_STOP])
        self.symbols = names
        self._cash = float(config.initial_cash if initial_cash is None else initial_cash)
        self._positions: dict[tuple[str, str], FifoPosition] = {}
        self._orders: dict[str, Order] = {}
        self._working: dict[str, None] = {}
        self._targets: dict[tuple[str, str, str], float] = {}
        self._close = dict.fromkeys(names, math.nan)
        self._volume = dict.fromkeys(names, math.nan)
        self._last_prices = MappingProxyType(self._close)
        self._column = {s: j for j, s in enumerate(names)}
        self._scratch = np.empty(1)
        self.last_ts: int | None = None
        self.last_index = -1

    # --- state ---------------------------------------------------------------------------

    @property
    def state(self) -> BrokerState:
        """The book as an independent value (positions are copied, orders are immutable).

        Orders finished before the last marked bar are left out: they can never change
        again, and carrying every order of a session would make the state (checkpointed and
        sent to the guardian every step) grow without bound. Their events are in the store.
        """
        keep = tuple(o for o in self._orders.values()
                     if o.is_working or o.last_update().ts >= (self.last_ts or 0))
        return BrokerState(
            self.config, self.symbols, self._cash,
            tuple(p.copy() for p in self._positions.values()), keep,
            tuple(self._working), tuple(self._targets.items()),
            tuple(self._close[s] for s in self.symbols),
            tuple(self._volume[s] for s in self.symbols), self.last_ts, self.last_index,
            self._risk)

    @classmethod
    def from_state(cls, state: BrokerState) -> PaperBroker:
        """A broker continuing exactly where ``state`` was taken."""
        broker = cls(state.config, state.symbols, state.cash, risk=state.risk)
        broker._positions = {p.key: p.copy() for p in state.positions}
        broker._orders = {o.client_order_id: o for o in state.orders}
        broker._working = dict.fromkeys(state.working)
        broker._targets = dict(state.targets)
        broker._close.update(zip(state.symbols, state.last_close, strict=True))
        broker._volume.update(zip(state.symbols, state.last_volume, strict=True))
        broker.last_ts = state.last_ts
        broker.last_index = state.last_index
        return broker

    def state_hash(self) -> str:
        """Stable hash of the book: cash, positions and lots, working orders, targets, marks.

        Terminal orders are left out, so a guardian's shadow (which records its own denial
        reasons) and the executor hash equal when their books agree.
        """
        digest = hashlib.blake2b(digest_size=16)
        items: list[object] = [self._cash, self.last_ts, self.last_index,
                               sorted(self._targets.items()),
                               [(s, self._close[s], self._volume[s]) for s in self.symbols]]
        for p in self._positions.values():
            items.append((p.key, p.quantity, p.realized, p.fees, p.mae, p.mfe, p.opened_ts,
                          p.entry_index, p.entry_avg, p.strategy_id, p.stop_loss,
                          p.take_profit, [(lot.quantity, lot.price, lot.ts) for lot in p.lots]))
        for oid in self._working:
            order = self._orders[oid]
            items.append((order.request, order.status.value, order.filled_quantity))
        digest.update(repr(items).encode())
        return digest.hexdigest()

    # --- queries -------------------------------------------------------------------------

    @property
    def cash(self) -> float:
        """Quote cash."""
        return self._cash

    @property
    def last_prices(self) -> Mapping[str, float]:
        """Read-only view of the last marked close per symbol."""
        return self._last_prices

    @property
    def has_working(self) -> bool:
        """True if an order is waiting for the next open."""
        return bool(self._working)

    def working_orders(self) -> list[Order]:
        """Working orders in arrival order."""
        return [self._orders[oid] for oid in self._working]

    def working_keys(self) -> set[tuple[str, str]]:
        """(symbol, tag) of every working order."""
        return {(o.request.symbol, o.request.tag) for o in self.working_orders()}

    def order(self, client_order_id: str) -> Order | None:
        """The order with this id, if the broker has seen it."""
        return self._orders.get(client_order_id)

    def position(self, symbol: str, tag: str = "core") -> FifoPosition | None:
        """The (symbol, tag) position book (read-only use), None if never traded."""
        return self._positions.get((symbol, tag))

    def open_positions(self) -> list[FifoPosition]:
        """Non-flat positions sorted by (symbol, tag) (read-only use)."""
        return [p for p in self._positions.values() if p.quantity != 0.0]

    def net_quantity(self, symbol: str) -> float:
        """Signed quantity of ``symbol`` over all tags."""
        return sum(p.quantity for p in self._positions.values() if p.symbol == symbol)

    def equity(self, closes: Mapping[str, float] | None = None) -> float:
        """Cash plus every position marked at ``closes`` (default: the last marks).

        The sum runs in (symbol, tag) order, the same as the walk's vectorised equity.
        """
        marks = self._close if closes is None else {**self._close, **closes}
        value = self._cash
        for p in self._positions.values():
            if p.quantity != 0.0:
                value = value + p.quantity * marks[p.symbol]
        return value

    def portfolio(self, ts: int | None = None) -> PortfolioSnapshot:
        """The book marked at the last closes (``ts`` defaults to the last marked bar)."""
        positions = tuple(p.snapshot(self._close[p.symbol]) for p in self.open_positions())
        gross = sum(abs(p.quantity * p.last_price) for p in positions)
        when = self.last_ts if ts is None else ts
        return PortfolioSnapshot(int(when or 0), self._cash, self.equity(), gross, positions)

    def exposure_portfolio(self, ts: int | None = None) -> PortfolioSnapshot:
        """The book as if every working order had filled at its reference price.

        What pre-trade checks must see: two orders of the same bar on different symbols
        together must not exceed a limit that each alone respects.
        """
        book = self.portfolio(ts)
        if not self._working:
            return book
        extra: dict[tuple[str, str], float] = {}
        for coid in self._working:
            request = self._orders[coid].request
            signed = request.quantity if request.side is Side.BUY else -request.quantity
            key = (request.symbol, request.tag)
            extra[key] = extra.get(key, 0.0) + signed
        positions = []
        for position in book.positions:
            delta = extra.pop((position.symbol, position.tag), 0.0)
            positions.append(dataclasses.replace(position, quantity=position.quantity + delta))
        for (symbol, tag), delta in sorted(extra.items()):
            last = self._close[symbol]
            positions.append(PositionSnapshot(symbol, tag, delta, last, last, 0.0, 0.0, 0.0,
                                              0.0, int(book.ts)))
        held = tuple(sorted((p for p in positions if p.quantity != 0.0),
                            key=lambda p: (p.symbol, p.tag)))
        gross = sum(abs(p.quantity * p.last_price) for p in held)
        return PortfolioSnapshot(book.ts, book.cash, book.equity, gross, held)

    # --- orders --------------------------------------------------------------------------

    def order_for(self, signal: Signal, close: float, volume: float, ts: int
                  ) -> OrderRequest | None:
        """The order a signal causes at the decision close, or None.

        Records the signal's target for its (strategy, symbol, tag) (a denied change is not
        retried until the target changes again) and marks ``close`` / ``volume`` as the
        symbol's latest bar. Sizing is the backtester's: long-only clips negative targets to
        0; a non-zero target is sized with the equity at this close. ``reduce_only`` is
        judged on the book at this close: the estimated order is opposite to the symbol's
        net quantity (over all tags) and no larger. The fill is not clipped to it (the fill
        quantity is recomputed at the open, exactly as the backtester does per column).

        Args:
            signal: The decision.
            close: Close of the decision bar (sizing and reference price).
            volume: Volume of the decision bar (the fill's slippage reference).
            ts: Open time of the decision bar.

        Returns:
            None when the target did not change, the position is already flat for a zero
            target, the account cannot size anything, or the estimated quantity is 0.

        Raises:
            ValueError: For a symbol outside the session.
        """
        if signal.symbol not in self._close:
            raise ValueError(f"signal for unknown symbol {signal.symbol!r}")
        self._close[signal.symbol] = float(close)
        self._volume[signal.symbol] = float(volume)
        target = float(signal.target)
        key = (signal.strategy_id, signal.symbol, signal.tag)
        if target != target or self._targets.get(key) == target:
            return None
        self._targets[key] = target
        effective = target if (self.allow_short or target > 0.0) else 0.0
        held = self._positions.get((signal.symbol, signal.tag))
        pos = held.quantity if held is not None else 0.0
        equity = self.equity()
        if effective == 0.0:
            if pos == 0.0:
                return None
            dq, notional = -pos, 0.0
        else:
            notional = size_notional(effective, equity, math.nan, self._p)
            if notional != notional:
                return None
            dq = order_quantity(effective, notional, equity, float(close), pos, self._p)
            if dq == 0.0:
                return None
        return self._request(signal.strategy_id, signal.symbol, signal.tag, int(ts), dq,
                             float(close), effective, notional, equity, "signal",
                             signal.stop_loss_pct, signal.take_profit_pct, int(ts))

    def exit_request(self, position: FifoPosition, ts: int, kind: str, id_ts: int | None = None
                     ) -> OrderRequest:
        """A request closing ``position`` (time stop, liquidation, stop-loss, take-profit).

        Args:
            position: The open position.
            ts: Decision bar open time.
            kind: What causes it; part of the client order id.
            id_ts: Time keying the client order id (default ``ts``).
        """
        return self._request(position.strategy_id, position.symbol, position.tag, ts,
                             -position.quantity, self._close[position.symbol], 0.0, 0.0,
                             self.equity(), kind, None, None, ts if id_ts is None else id_ts)

    def time_stop_request(self, position: FifoPosition, ts: int) -> OrderRequest | None:
        """The time-stop exit of ``position``; None once one was issued for this position."""
        request = self.exit_request(position, ts, "time_stop", id_ts=position.opened_ts)
        return None if request.client_order_id in self._orders else request

    def _request(self, strategy_id: str, symbol: str, tag: str, ts: int, dq: float,
                 price: float, target: float, notional: float, equity: float, kind: str,
                 stop_loss_pct: float | None, take_profit_pct: float | None, id_ts: int
                 ) -> OrderRequest:
        net = self.net_quantity(symbol)
        reduce_only = net != 0.0 and dq * net < 0.0 and abs(dq) <= abs(net)
        return OrderRequest(
            client_order_id(strategy_id, symbol, tag, id_ts, kind), strategy_id, symbol, tag,
            ts, Side.BUY if dq > 0.0 else Side.SELL, abs(dq), price, target, notional,
            reduce_only, stop_loss_pct, take_profit_pct, kind, equity)

    def submit(self, request: OrderRequest) -> OrderUpdate:
        """Accept ``request`` as a working order (fills at the next open).

        Idempotent: an id seen before returns its current status and changes nothing. An
        order for a symbol outside the session is REJECTED.
        """
        existing = self._orders.get(request.client_order_id)
        if existing is not None:
            return existing.last_update()
        if request.symbol not in self._close:
            order, update = Order(request).transition(OrderStatus.REJECTED, request.ts,
                                                      reason="unknown_symbol")
        else:
            order, update = Order(request).transition(OrderStatus.ACCEPTED, request.ts)
            self._working[request.client_order_id] = None
        self._orders[request.client_order_id] = order
        return update

    def deny(self, request: OrderRequest, reason: str) -> OrderUpdate:
        """Record that the risk gate denied ``request`` (idempotent like :meth:`submit`)."""
        existing = self._orders.get(request.client_order_id)
        if existing is not None:
            return existing.last_update()
        order, update = Order(request).transition(OrderStatus.DENIED, request.ts,
                                                  reason=reason)
        self._orders[request.client_order_id] = order
        return update

    def cancel_all(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Cancel every working order except forced liquidations (the venue's, not ours)."""
        updates = []
        for oid in list(self._working):
            if self._orders[oid].request.kind != "liquidation":
                updates.append(self._finish(oid, OrderStatus.CANCELED, ts, None, reason))
        return updates

    def _finish(self, oid: str, status: OrderStatus, ts: int, filled: float | None,
                reason: str = "") -> OrderUpdate:
        order, update = self._orders[oid].transition(status, ts, filled_quantity=filled,
                                                     reason=reason)
        self._orders[oid] = order
        self._working.pop(oid, None)
        return update

    # --- bars ----------------------------------------------------------------------------

    def fill_at_open(self, ts: int, index: int, opens: Sequence[float]) -> Events:
        """Fill every working order at this bar's open (``opens`` in :attr:`symbols` order).

        Args:
            ts: Bar open time.
            index: Session index of the bar.
            opens: Opening price per symbol.
        """
        fills: list[Fill] = []
        updates: list[OrderUpdate] = []
        column = self._column
        for oid in list(self._working):
            request = self._orders[oid].request
            self._fill_market(oid, request, float(opens[column[request.symbol]]), ts, index,
                              fills, updates)
        return fills, updates

    def _fill_market(self, oid: str, request: OrderRequest, o: float, ts: int, index: int,
                     fills: list[Fill], updates: list[OrderUpdate]) -> None:
        p = self._p
        held = self._positions.get((request.symbol, request.tag))
        pos = held.quantity if held is not None else 0.0
        equity = self.equity() if request.decision_equity is None else request.decision_equity
        dq = order_quantity(request.target, request.target_notional, equity, o, pos, p)
        reason = ""
        if dq == 0.0:
            if request.target != 0.0 or pos != 0.0:
                updates.append(self._finish(oid, OrderStatus.REJECTED, ts, None,
                                            "below_min_notional_or_lot"))
            else:
                updates.append(self._finish(oid, OrderStatus.CANCELED, ts, None,
                                            "position_already_flat"))
            return
        taker = self._taker
        spread_part = self._half_spread
        ref_volume = self._volume[request.symbol]
        qty = abs(dq)
        side = 1.0 if dq > 0.0 else -1.0
        slip = slippage_fraction(qty, ref_volume, spread_part, p)
        price = o * (1.0 + side * slip)
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
            self._book(oid, request, dq, price, qty * price * taker, qty * abs(price - o),
                       "taker", ts, index, fills, updates, reason)
        else:
            updates.append(self._finish(oid, OrderStatus.REJECTED, ts, None,
                                        "insufficient_cash"))

    def _book(self, oid: str, request: OrderRequest, dq: float, price: float, fee: float,
              slip_cost: float, liquidity: str, ts: int, index: int, fills: list[Fill],
              updates: list[OrderUpdate], reason: str = "") -> None:
        key = (request.symbol, request.tag)
        position = self._positions.get(key)
        if position is None:
            position = FifoPosition(*key)
            self._positions[key] = position
            self._positions = dict(sorted(self._positions.items()))
        pos = position.quantity
        self._cash -= dq * price + fee
        position.fill(dq, price, fee, ts, index)
        new = position.quantity
        grew = pos == 0.0 or (pos > 0.0) == (dq > 0.0) or (new > 0.0) != (pos > 0.0)
        if new != 0.0 and grew:
            position.strategy_id = request.strategy_id
            sl, tp = request.stop_loss_pct, request.take_profit_pct
            position.stop_loss = self._stop_loss if sl is None else float(sl) * _PCT
            position.take_profit = self._take_profit if tp is None else float(tp) * _PCT
        qty = abs(dq)
        fills.append(Fill(oid, request.strategy_id, request.symbol, request.tag, ts,
                          Side.BUY if dq > 0.0 else Side.SELL, qty, price, fee, slip_cost,
                          liquidity, request.kind))
        updates.append(self._finish(oid, OrderStatus.FILLED, ts, qty, reason))

    def trigger_stops(self, ts: int, index: int, opens: Sequence[float],
                      highs: Sequence[float], lows: Sequence[float]) -> Events:
        """Check every stop-bearing position against this bar (symbols in :attr:`symbols` order).

        A hit closes the whole position within the bar (see :meth:`FifoPosition.stop_exit`);
        each exit is an order of its own (ACCEPTED then FILLED), ungated like a venue-side
        stop order.
        """
        fills: list[Fill] = []
        updates: list[OrderUpdate] = []
        for position in self.open_positions():
            if position.stop_loss <= 0.0 and position.take_profit <= 0.0:
                continue
            j = self._column[position.symbol]
            self._scratch[0] = opens[j]
            hit = position.stop_exit(self._scratch, highs[j], lows[j],
                                     self._volume[position.symbol], self._p)
            if hit is None:
                continue
            kind, price, fee, slip_cost = hit
            request = self.exit_request(position, ts, kind)
            updates.append(self.submit(request))
            self._book(request.client_order_id, request, -position.quantity, price, fee,
                       slip_cost, "maker" if kind == "take_profit" else "taker", ts, index,
                       fills, updates)
        return fills, updates

    def mark(self, ts: int, index: int, closes: Sequence[float], volumes: Sequence[float],
             lows: Sequence[float], highs: Sequence[float]) -> None:
        """Mark the book at a close (sequences in :attr:`symbols` order).

        ``lows`` / ``highs`` are the extremes since the previous mark (one bar, or a whole
        quiet stretch) and update the open positions' MAE/MFE.
        """
        for j, symbol in enumerate(self.symbols):
            self._close[symbol] = float(closes[j])
            self._volume[symbol] = float(volumes[j])
        for position in self.open_positions():
            j = self._column[position.symbol]
            position.mark_range(float(lows[j]), float(highs[j]))
        self.last_ts = int(ts)
        self.last_index = int(index)
