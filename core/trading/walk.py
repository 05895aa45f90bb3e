"""``walk_batch``: the one loop that walks a batch of bars through a broker and a risk gate.

The guardian's shadow (gate = RiskEngine), the executor (gate = :class:`ApprovedOnly`) and
the candidates (gate = their own RiskEngine) all run this function, so they agree bit for
bit. Per bar, in time order:

a. working orders (decided at the previous close, possibly in the previous batch) fill at
   this open;
b. client-side stop-loss / take-profit are checked intrabar;
c. the book is marked at the close;
d. ``gate.observe`` sees the equity;
e. if the equity is gone with shorts allowed, every position is liquidated at the next open
   (forced, ungated; the bar's signals are ignored, as in the backtester); otherwise the
   bar's signals become orders (``broker.order_for`` -> ``gate.check`` against the book
   including working orders -> submit or deny),
   then due time stops do the same;
f. if the gate is HALTED, working orders are cancelled.

Quiet stretches (no working order, no signal, no stop or time stop due, no ruin) are done
with numpy: equity = cash + sum of position * close, MAE/MFE from the stretch's extremes,
and the whole stretch goes to ``gate.observe`` at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.trading.broker import PaperBroker
from core.trading.lots import FifoPosition
from core.trading.messages import (
    Fill,
    MarketBatch,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
    TradingState,
)

HALT_REASON = "trading_state_halted"
"""Reason of the cancels step (f) makes."""


class OrderGate(Protocol):
    """What the walk asks before an order reaches the broker (the RiskEngine implements it)."""

    @property
    def state(self) -> TradingState:
        """Current trading state."""
        ...

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        """Approve or deny ``request`` against the book at the decision close."""
        ...

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        """Consume bars ``[0, k)`` of the equity at each close.

        Returns:
            ``k = len(ts)`` when the trading state did not change, else the index just after
            the bar where it changed, and the events raised.
        """
        ...


class ApproveAll:
    """A gate that approves everything and never trips (backtest equivalence, tests)."""

    @property
    def state(self) -> TradingState:
        """Always ACTIVE."""
        return TradingState.ACTIVE

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        """Approve ``request``."""
        return RiskDecision(request.client_order_id, request.ts, True)

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        """Consume everything, raise nothing."""
        return len(ts), []


class ApprovedOnly:
    """The executor's gate: approves exactly the guardian's approved client order ids.

    Args:
        ids: Client order ids the guardian approved (see :attr:`BatchOutcome.approved_ids`).
    """

    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = frozenset(ids)

    @property
    def state(self) -> TradingState:
        """Always ACTIVE: the guardian already applied the trading state."""
        return TradingState.ACTIVE

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        """Approve an approved id, deny anything else with ``not_approved_by_guardian``."""
        if request.client_order_id in self.ids:
            return RiskDecision(request.client_order_id, request.ts, True)
        return RiskDecision(request.client_order_id, request.ts, False,
                            "not_approved_by_guardian")

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        """Consume everything, raise nothing."""
        return len(ts), []


@dataclass(frozen=True, eq=False)
class BatchOutcome:
    """What walking one batch produced.

    Attributes:
        fills: Executions in time order.
        order_updates: Order state transitions in time order.
        decisions: The gate's verdict on every gated request, in order.
        risk_events: Denials, the gate's own events and liquidations, in order.
        equity: Equity at each close of the batch, shape ``(n_bars,)`` (read-only).
        portfolio: The book at the last close.
        requests: Every order request created (gated and forced), in order.
    """

    fills: tuple[Fill, ...]
    order_updates: tuple[OrderUpdate, ...]
    decisions: tuple[RiskDecision, ...]
    risk_events: tuple[RiskEvent, ...]
    equity: np.ndarray
    portfolio: PortfolioSnapshot
    requests: tuple[OrderRequest, ...]

    @property
    def approved_ids(self) -> frozenset[str]:
        """Ids approved and not cancelled by a halt: what :class:`ApprovedOnly` must pass.

        An order approved and then cancelled in the same bar because the gate halted is left
        out, so the executor denies it instead and its book matches this walk's.
        """
        halted = {u.client_order_id for u in self.order_updates
                  if u.status is OrderStatus.CANCELED and u.reason == HALT_REASON}
        return frozenset(d.client_order_id for d in self.decisions
                         if d.approved and d.client_order_id not in halted)


def walk_batch(broker: PaperBroker, batch: MarketBatch, signals: Sequence[Signal],
               gate: OrderGate) -> BatchOutcome:
    """Walk ``batch`` bar by bar through ``broker``, asking ``gate`` before every order.

    Args:
        broker: The book, mutated in place (working orders carry over to the next batch).
        batch: Bars of every broker symbol (any column order), after the broker's last bar.
        signals: Decisions of this batch; each ``ts`` must be a bar of the batch.
        gate: The risk gate.

    Returns:
        The batch's fills, order updates, decisions, risk events, equity and final book.

    Raises:
        ValueError: If the batch does not cover the broker's symbols, does not come after
            the broker's last bar, or a signal is not on a bar of the batch, names an
            unknown symbol, or repeats (strategy, symbol, tag) on one bar.
    """
    return _Walk(broker, batch, signals, gate).run()


class _Walk:
    """One walk: the batch in broker column order, the signals by bar, and the records."""

    def __init__(self, broker: PaperBroker, batch: MarketBatch, signals: Sequence[Signal],
                 gate: OrderGate) -> None:
        if sorted(batch.symbols) != sorted(broker.symbols):
            raise ValueError(f"batch symbols {batch.symbols} differ from the broker's "
                             f"{broker.symbols}")
        self.ts = np.asarray(batch.ts, dtype=np.int64)
        self.n = int(self.ts.shape[0])
        if self.n and broker.last_ts is not None and int(self.ts[0]) <= broker.last_ts:
            raise ValueError(f"batch {batch.seq} starts at {int(self.ts[0])}, not after the "
                             f"broker's last bar {broker.last_ts}")
        self.broker, self.gate, self.start = broker, gate, int(batch.start)
        self.seq = batch.seq
        order = [batch.symbols.index(s) for s in broker.symbols]
        pick = slice(None) if order == sorted(order) else order
        self.rows = tuple(np.ascontiguousarray(np.asarray(a, dtype=np.float64)[:, pick])
                          for a in (batch.open, batch.high, batch.low, batch.close,
                                    batch.volume))
        self.cols = tuple(tuple(np.ascontiguousarray(a[:, j]) for j in range(len(order)))
                          for a in self.rows)
        self.by_bar = self._signals_by_bar(signals)
        self.column = {s: j for j, s in enumerate(broker.symbols)}
        self.equity = np.empty(self.n)
        self.fills: list[Fill] = []
        self.updates: list[OrderUpdate] = []
        self.decisions: list[RiskDecision] = []
        self.events: list[RiskEvent] = []
        self.requests: list[OrderRequest] = []

    def _signals_by_bar(self, signals: Sequence[Signal]) -> dict[int, list[Signal]]:
        by_bar: dict[int, list[Signal]] = {}
        if not signals:
            return by_bar
        when = np.fromiter((s.ts for s in signals), dtype=np.int64, count=len(signals))
        bars = np.searchsorted(self.ts, when)
        on_bar = (bars < self.n) & (self.ts[np.minimum(bars, max(self.n - 1, 0))] == when) \
            if self.n else np.zeros(len(signals), dtype=np.bool_)
        if not on_bar.all():
            bad = signals[int(np.argmin(on_bar))]
            span = f"{self.ts[0]}..{self.ts[-1]}" if self.n else "empty"
            raise ValueError(f"signal {bad.strategy_id}/{bad.symbol}/{bad.tag} at ts {bad.ts} "
                             f"is not a bar of batch {self.seq} ({span})")
        known = set(self.broker.symbols)
        seen: set[tuple[str, str, str, int]] = set()
        for signal, bar in zip(signals, bars.tolist(), strict=True):
            if signal.symbol not in known:
                raise ValueError(f"signal for unknown symbol {signal.symbol!r}")
            key = (signal.strategy_id, signal.symbol, signal.tag, signal.ts)
            if key in seen:
                raise ValueError(f"two signals for {key[:3]} on bar {signal.ts}")
            seen.add(key)
            by_bar.setdefault(bar, []).append(signal)
        return by_bar

    def run(self) -> BatchOutcome:
        signal_bars = sorted(self.by_bar)
        k = 0
        i = 0
        while i < self.n:
            while k < len(signal_bars) and signal_bars[k] < i:
                k += 1
            next_signal = signal_bars[k] if k < len(signal_bars) else self.n
            if not self.broker.has_working:
                end = self._quiet_end(i, next_signal)
                stop = self._quiet(i, end) if end > i else i
                if stop > i:
                    i = stop
                    continue
            self._event(i)
            i += 1
        self.equity.setflags(write=False)
        last = int(self.ts[-1]) if self.n else self.broker.last_ts
        return BatchOutcome(tuple(self.fills), tuple(self.updates), tuple(self.decisions),
                            tuple(self.events), self.equity, self.broker.portfolio(last),
                            tuple(self.requests))

    # --- quiet stretches ---------------------------------------------------------------

    def _quiet_end(self, i: int, end: int) -> int:
        """First bar in ``[i, end]`` that needs the bar-by-bar path (stops, time stops)."""
        _, high, low, _, _ = self.cols
        time_stop = self.broker.time_stop_bars
        for position in self.broker.open_positions():
            if time_stop and self.broker.time_stop_request(position, int(self.ts[i])):
                due = position.entry_index + time_stop - 1 - self.start
                end = min(end, max(i, due))
            if end <= i or (position.stop_loss <= 0.0 and position.take_profit <= 0.0):
                continue
            j = self.column[position.symbol]
            sl, tp = position.stop_levels()
            lo, hi = low[j][i:end], high[j][i:end]
            long = position.quantity > 0.0
            hit = np.zeros(end - i, dtype=np.bool_)
            if position.stop_loss > 0.0:
                hit |= (lo <= sl) if long else (hi >= sl)
            if position.take_profit > 0.0:
                hit |= (hi >= tp) if long else (lo <= tp)
            first = int(hit.argmax())
            if hit[first]:
                end = i + first
        return end

    def _quiet(self, i: int, end: int) -> int:
        """Walk bars ``[i, end)`` with numpy (truncated at a ruin); returns the next bar."""
        broker = self.broker
        _, high, low, close, volume = self.cols
        positions = broker.open_positions()
        segment = np.full(end - i, broker.cash)
        for position in positions:
            segment += position.quantity * close[self.column[position.symbol]][i:end]
        if positions and broker.allow_short:
            ruin = segment <= 0.0
            first = int(ruin.argmax())
            if ruin[first]:
                end, segment = i + first, segment[:first]
                if end == i:
                    return i
        self.equity[i:end] = segment
        m = len(broker.symbols)
        lows, highs = [np.nan] * m, [np.nan] * m
        for j in {self.column[p.symbol] for p in positions}:
            lows[j], highs[j] = float(low[j][i:end].min()), float(high[j][i:end].max())
        last = end - 1
        broker.mark(int(self.ts[last]), self.start + last, [c[last] for c in close],
                    [v[last] for v in volume], lows, highs)
        offset = i
        while offset < end:
            consumed, events = self.gate.observe(self.ts[offset:end], self.equity[offset:end])
            if not 0 < consumed <= end - offset:
                raise ValueError(f"gate.observe consumed {consumed} of {end - offset} bars")
            self.events.extend(events)
            offset += consumed
            self._halt_check(int(self.ts[offset - 1]))
        return end

    # --- one bar -----------------------------------------------------------------------

    def _event(self, i: int) -> None:
        broker = self.broker
        opens, highs, lows, closes, volumes = (rows[i] for rows in self.rows)
        ts, index = int(self.ts[i]), self.start + i
        if broker.has_working:
            self._record(broker.fill_at_open(ts, index, opens))
        self._record(broker.trigger_stops(ts, index, opens, highs, lows))
        broker.mark(ts, index, closes, volumes, lows, highs)
        equity = broker.equity()
        self.equity[i] = equity
        _, events = self.gate.observe(self.ts[i:i + 1], self.equity[i:i + 1])
        self.events.extend(events)
        positions = broker.open_positions()
        if positions and broker.allow_short and equity <= 0.0:
            self._liquidate(ts, positions, len(self.by_bar.get(i, ())))
        else:
            for signal in self.by_bar.get(i, ()):
                j = self.column[signal.symbol]
                self._gated(broker.order_for(signal, closes[j], volumes[j], ts), ts)
            time_stop = broker.time_stop_bars
            if time_stop:
                busy = broker.working_keys()
                for position in broker.open_positions():
                    if (position.key not in busy
                            and index - position.entry_index + 1 >= time_stop):
                        self._gated(broker.time_stop_request(position, ts), ts)
        self._halt_check(ts)

    def _gated(self, request: OrderRequest | None, ts: int) -> None:
        if request is None:
            return
        broker = self.broker
        self.requests.append(request)
        decision = self.gate.check(request, broker.exposure_portfolio(ts), broker.last_prices)
        self.decisions.append(decision)
        if decision.approved:
            self.updates.append(broker.submit(request))
            return
        self.updates.append(broker.deny(request, decision.reason))
        self.events.append(RiskEvent(ts, "denied", decision.reason, decision.detail,
                                     request.client_order_id, request.symbol, decision.state))

    def _liquidate(self, ts: int, positions: list[FifoPosition], ignored: int) -> None:
        broker = self.broker
        self.events.append(RiskEvent(
            ts, "liquidation", "equity_depleted",
            f"equity {broker.equity():.6g} <= 0: {len(positions)} position(s) closed at the "
            f"next open, {ignored} signal(s) of this bar ignored", state=self.gate.state))
        for position in positions:
            request = broker.exit_request(position, ts, "liquidation")
            self.requests.append(request)
            self.updates.append(broker.submit(request))

    def _halt_check(self, ts: int) -> None:
        if self.gate.state is TradingState.HALTED and self.broker.has_working:
            self.updates.extend(self.broker.cancel_all(ts, HALT_REASON))

    def _record(self, events: tuple[list[Fill], list[OrderUpdate]]) -> None:
        self.fills.extend(events[0])
        self.updates.extend(events[1])
