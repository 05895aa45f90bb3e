"""The trading loop: planner + risk gate + a portfolio built from the venue's events.

:class:`Trader` is the risk guardian's brain (and each candidate's). For one batch of bars
and the active strategy's signals it talks to a venue through a
:class:`~core.trading.execution.VenueLink`, one *exchange* per decision bar: the requests
approved at the previous decision bar are submitted, the venue runs up to the next decision
bar (fills at the open, stops, funding, liquidation: the venue's part of the event order of
:mod:`core.trading.paper`) and answers its events; the trader applies them to its portfolio
bar by bar, marks each close, feeds the equity to the gate's breakers, and at the decision
bar plans the signals' orders (:class:`~core.trading.planner.OrderPlanner`), judges each
against the book including the orders of that bar (:meth:`RiskGate.check`) and keeps the
approved ones for the next exchange. Its part of the event order, per bar after the venue's:

4. the book is marked at the close; the gate observes the equity;
5. if the venue liquidated at this close (ruin), the bar's signals are ignored (as the
   backtester does); otherwise each signal becomes a request -> gate -> approved or denied
   (a denial is an event, never a silent drop); then due time stops the same way.

Bars between decision bars cost no exchange; a paced one-bar step is one exchange to learn
the bar's fills and one to submit (the acknowledgement). With a :class:`LocalLink` to a
:class:`~core.trading.paper.PaperClient` the loop reproduces ``run_backtest`` bit for bit
(one symbol and tag); across actors the guardian's link reaches the executor.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.trading.errors import VenueMismatchError
from core.trading.execution import ExecutionEvent, VenueLink
from core.trading.messages import (
    CashAdjustment,
    Fill,
    FundingPayment,
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
from core.trading.planner import OrderPlanner, PlannerState
from core.trading.portfolio import Portfolio, PortfolioState

HALT_REASON = "trading_state_halted"
"""Reason of approved orders dropped because the gate halted before they were sent."""
PREVIEW_DECISIONS = 256
"""Signal bars a preview reaches ahead (see :meth:`_Batch._ahead`)."""


class RiskGate(Protocol):
    """What the loop asks (the :class:`~core.trading.risk.RiskEngine` implements it)."""

    @property
    def state(self) -> TradingState:
        """Current trading state."""
        ...

    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        """Approve or deny ``request`` against the book (working orders included)."""
        ...

    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        """Consume bars ``[0, k)`` of the equity at each close (``k`` < len: state changed)."""
        ...

    def on_execution(self, updates: Sequence[OrderUpdate]) -> list[RiskEvent]:
        """Venue updates in order (rejects feed the consecutive-rejects breaker)."""
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

    def on_execution(self, updates: Sequence[OrderUpdate]) -> list[RiskEvent]:
        """Nothing to say."""
        return []


@dataclass(frozen=True, eq=False)
class StepOutcome:
    """What one batch produced for one book.

    Attributes:
        fills: Executions in venue order.
        order_updates: Order transitions: the venue's, and the denials, in order.
        decisions: The gate's verdict on every request planned, in order.
        risk_events: Denials, breaker events, liquidations, in order.
        equity: Equity at each close of the batch, shape ``(n_bars,)`` (read-only).
        portfolio: The book at the last close.
        requests: Every request of the batch: planned ones and the venue's own exits.
        funding: Funding payments.
        exchanges: Exchanges with the venue the batch took.
    """

    fills: tuple[Fill, ...]
    order_updates: tuple[OrderUpdate, ...]
    decisions: tuple[RiskDecision, ...]
    risk_events: tuple[RiskEvent, ...]
    equity: np.ndarray
    portfolio: PortfolioSnapshot
    requests: tuple[OrderRequest, ...]
    funding: tuple[FundingPayment, ...] = ()
    exchanges: int = 0


@dataclass(frozen=True, slots=True)
class TraderState:
    """A trader's state besides its gate (plain values).

    Attributes:
        portfolio: The book.
        planner: The planner's memory.
        cursor: Number of the last venue event applied.
    """

    portfolio: PortfolioState
    planner: PlannerState
    cursor: int


class Trader:
    """Planner + gate + portfolio over a venue link (see the module doc).

    Args:
        portfolio: The book (built from the venue's events).
        planner: The order planner.
        gate: The risk gate.
        cursor: Number of the last venue event already in ``portfolio``.
    """

    def __init__(self, portfolio: Portfolio, planner: OrderPlanner, gate: RiskGate,
                 cursor: int = 0) -> None:
        self.portfolio, self.planner, self.gate = portfolio, planner, gate
        self.cursor = cursor

    @property
    def state(self) -> TraderState:
        """Snapshot of the portfolio, the planner and the cursor."""
        return TraderState(self.portfolio.state, self.planner.state, self.cursor)

    def restore(self, state: TraderState) -> None:
        """Continue from ``state`` (the gate is restored by its owner)."""
        self.portfolio = Portfolio.from_state(state.portfolio)
        self.planner.restore(state.planner)
        self.cursor = state.cursor

    def run_batch(self, batch: MarketBatch, signals: Sequence[Signal], link: VenueLink
                  ) -> StepOutcome:
        """Trade one batch (see the module doc).

        Raises:
            ValueError: The batch does not follow the book's last bar or misses a symbol; a
                signal is not on a bar of the batch, names an unknown symbol or repeats
                (strategy, symbol, tag) on one bar; the venue reported an event outside the
                bars it was asked to process.
        """
        return _Batch(self, batch, signals, link).run()


class _Batch:
    """One :meth:`Trader.run_batch`: columns in book order, signals by row, the records."""

    def __init__(self, trader: Trader, batch: MarketBatch, signals: Sequence[Signal],
                 link: VenueLink) -> None:
        book = trader.portfolio
        if sorted(batch.symbols) != sorted(book.symbols):
            raise ValueError(f"batch symbols {batch.symbols} differ from the book's "
                             f"{book.symbols}")
        if batch.start != book.last_index + 1:
            raise ValueError(f"batch {batch.seq} starts at bar {batch.start}; the book is at "
                             f"bar {book.last_index}")
        self.trader, self.book, self.link = trader, book, link
        self.planner, self.gate = trader.planner, trader.gate
        self.start, self.n = int(batch.start), int(batch.n_bars)
        self.ts = np.asarray(batch.ts, dtype=np.int64)
        order = [batch.symbols.index(s) for s in book.symbols]
        pick = slice(None) if order == sorted(order) else order
        self.high, self.low, self.close, self.volume = (
            np.asarray(a, dtype=np.float64)[:, pick]
            for a in (batch.high, batch.low, batch.close, batch.volume))
        self.by_row = self._signals_by_row(signals)
        self.rows = sorted(self.by_row)
        self.equity = np.empty(self.n)
        self.fills: list[Fill] = []
        self.updates: list[OrderUpdate] = []
        self.decisions: list[RiskDecision] = []
        self.events: list[RiskEvent] = []
        self.requests: list[OrderRequest] = []
        self.funding: list[FundingPayment] = []
        self.liquidated: set[int] = set()
        self.nans = np.full(len(book.symbols), np.nan)
        self.exchanges = 0
        self.committed = -1
        """Last row the venue has committed."""
        self.preview: list[ExecutionEvent] | None = None
        """Previewed events not walked yet (None: no preview in hand)."""
        self.walked: list[ExecutionEvent] = []
        """Previewed events walked and applied, to be committed by the next exchange."""
        self.horizon = -1
        """Last row the preview in hand covers."""

    def _signals_by_row(self, signals: Sequence[Signal]) -> dict[int, list[Signal]]:
        by_row: dict[int, list[Signal]] = {}
        if not signals:
            return by_row
        when = np.fromiter((s.ts for s in signals), dtype=np.int64, count=len(signals))
        rows = np.searchsorted(self.ts, when)
        found = rows < self.n
        found[found] = self.ts[rows[found]] == when[found]
        if not found.all():
            bad = signals[int(np.argmin(found))]
            span = f"{self.ts[0]}..{self.ts[-1]}" if self.n else "empty"
            raise ValueError(f"signal {bad.strategy_id}/{bad.symbol}/{bad.tag} at ts {bad.ts} "
                             f"is not a bar of the batch ({span})")
        seen: set[tuple[str, str, str, int]] = set()
        for signal, row in zip(signals, rows.tolist(), strict=True):
            if signal.symbol not in self.book.column:
                raise ValueError(f"signal for unknown symbol {signal.symbol!r}")
            key = (signal.strategy_id, signal.symbol, signal.tag, signal.ts)
            if key in seen:
                raise ValueError(f"two signals for {key[:3]} on bar {signal.ts}")
            seen.add(key)
            by_row.setdefault(row, []).append(signal)
        return by_row

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> StepOutcome:
        n = self.n
        row, pending = 0, []
        while row < n:
            # orders still working (sent at the previous batch's last bar) also fill at this
            # row's open and may open a position whose time stop falls before the next signal
            target = self._next_decision(row, bool(pending or self.book.working))
            if pending or self.preview is None or target > self.horizon:
                self._exchange(row - 1, pending, target, self._ahead(target), row)
            else:
                self._walk_preview(row, target)
            row = target + 1
            pending = self._decide(target)
        if pending or self.committed < n - 1:
            self._exchange(n - 1, pending, n - 1, n - 1, n, last=True)
        self.equity.setflags(write=False)
        return StepOutcome(tuple(self.fills), tuple(self.updates), tuple(self.decisions),
                           tuple(self.events), self.equity,
                           self.book.snapshot(int(self.ts[-1]) if self.n else None),
                           tuple(self.requests), tuple(self.funding), self.exchanges)

    def _ahead(self, target: int) -> int:
        """How far to ask a preview: up to :data:`PREVIEW_DECISIONS` signal bars ahead.

        The trader walks a preview only until it submits again; a longer one would cost the
        venue and the transport for nothing, a shorter one an extra exchange.
        """
        if not self.link.previews or target >= self.n - 1:
            return target
        k = bisect.bisect_right(self.rows, target) + PREVIEW_DECISIONS - 1
        return self.rows[k] if k < len(self.rows) else self.n - 1

    def _next_decision(self, row: int, submitting: bool) -> int:
        """The next row in ``[row, n)`` needing a decision (signals, a due time stop)."""
        k = bisect.bisect_left(self.rows, row)
        best = self.rows[k] if k < len(self.rows) else self.n - 1
        horizon = self.planner.time_stop_bars
        if horizon:
            for position in self.book.open_positions():
                due = self.planner.time_stop_due(position)
                if due is not None:
                    best = min(best, max(due - self.start, row))
            if submitting:  # an order filled at this row's open may open a position
                best = min(best, row + horizon - 1)
        return min(best, self.n - 1)

    def _exchange(self, sync: int, submit: list[OrderRequest], target: int, ahead: int,
                  row: int, last: bool = False) -> None:
        """Sync to row ``sync``, submit, run to ``target``, preview up to ``ahead``.

        The new events are absorbed over rows ``[row, target]``.
        """
        for request in submit:
            self.book.announce(request)
        start = self.start
        reply = self.link.exchange(self.trader.cursor, start + sync, tuple(submit),
                                   start + target, start + ahead, last=last)
        self.exchanges += 1
        synced = list(reply.synced_events)
        if synced != self.walked:
            raise VenueMismatchError(
                f"the venue committed {len(synced)} event(s) over bars up to {start + sync} "
                f"that differ from the {len(self.walked)} previewed ones the book was built on")
        self.walked = []
        first = reply.unsolicited + reply.synced
        self._absorb((*reply.events[:reply.unsolicited], *reply.events[first:]), row,
                     target + 1)
        self.trader.cursor = reply.last
        self.committed = target
        self.preview = list(reply.preview) if ahead > target else None
        self.horizon = ahead

    def _walk_preview(self, row: int, target: int) -> None:
        """Rows ``[row, target]`` on the preview's events (committed at the next exchange)."""
        assert self.preview is not None
        limit = int(self.ts[target])
        k = 0
        while k < len(self.preview) and self.preview[k].ts <= limit:
            k += 1
        taken, self.preview = self.preview[:k], self.preview[k:]
        self.walked.extend(taken)
        self._absorb(taken, row, target + 1)

    def _absorb(self, events: Sequence[ExecutionEvent], a: int, b: int) -> None:
        """Apply ``events`` bar by bar while marking rows ``[a, b)``; observe the equity."""
        book = self.book
        times = np.fromiter((e.ts for e in events), dtype=np.int64, count=len(events))
        event_rows = np.searchsorted(self.ts, times).tolist()
        if events and (event_rows[-1] >= b or int(times[-1]) > int(self.ts[min(b, self.n) - 1])):
            raise ValueError(f"the venue reported an event at {int(times[-1])} beyond the bars "
                             f"it was asked to process")
        updates: list[OrderUpdate] = []
        k, count = 0, len(events)
        while k < count and event_rows[k] < a:  # acknowledgements of the last decision
            self._apply(events[k], event_rows[k], updates)
            k += 1
        i = a
        while i < b:
            next_row = event_rows[k] if k < count else b
            if next_row > i:
                end = min(next_row, b)
                self._quiet(i, end)
                i = end
                continue
            while k < count and event_rows[k] == i:
                self._apply(events[k], i, updates)
                k += 1
            book.mark(int(self.ts[i]), self.start + i, self.close[i], self.volume[i],
                      self.low[i], self.high[i])
            self.equity[i] = book.equity()
            i += 1
        if b > a:
            self.planner.observe(self.close[a:b])
            offset = a
            while offset < b:
                consumed, found = self.gate.observe(self.ts[offset:b], self.equity[offset:b])
                if not 0 < consumed <= b - offset:
                    raise ValueError(f"gate.observe consumed {consumed} of {b - offset} bars")
                self.events.extend(found)
                offset += consumed
        if updates:
            self.events.extend(self.gate.on_execution(updates))

    def _quiet(self, a: int, b: int) -> None:
        """Rows ``[a, b)`` without events: equity with numpy, one mark at the last row."""
        book = self.book
        self.equity[a:b] = book.equity_curve(self.close[a:b])
        lows, highs = self.nans.copy(), self.nans.copy()
        for j in {book.column[p.symbol] for p in book.open_positions()}:
            lows[j], highs[j] = self.low[a:b, j].min(), self.high[a:b, j].max()
        last = b - 1
        book.mark(int(self.ts[last]), self.start + last, self.close[last], self.volume[last],
                  lows, highs)

    def _apply(self, event: ExecutionEvent, row: int, updates: list[OrderUpdate]) -> None:
        self.book.apply(event, self.start + row)
        if isinstance(event, Fill):
            self.fills.append(event)
        elif isinstance(event, OrderUpdate):
            self.updates.append(event)
            updates.append(event)
        elif isinstance(event, FundingPayment):
            self.funding.append(event)
        elif isinstance(event, CashAdjustment):  # reconciliation adopted the venue's cash
            self.events.append(RiskEvent(event.ts, "reconcile", event.reason,
                                         f"cash {event.amount:+.8f}: {event.detail}",
                                         state=self.gate.state))
        elif isinstance(event, OrderRequest):
            self.requests.append(event)
            if event.kind == "liquidation" and row not in self.liquidated:
                self.liquidated.add(row)
                self.events.append(RiskEvent(
                    event.ts, "liquidation", "equity_depleted",
                    f"equity {event.decision_equity:.6g} <= 0: positions closed at the next "
                    f"open, {len(self.by_row.get(row, ()))} signal(s) of this bar ignored",
                    state=self.gate.state))

    # --- decisions -----------------------------------------------------------------------

    def _decide(self, row: int) -> list[OrderRequest]:
        """Requests approved at the close of ``row`` (empty at a liquidation)."""
        if row in self.liquidated:
            return []
        ts, index = int(self.ts[row]), self.start + row
        pending: list[OrderRequest] = []
        for signal in self.by_row.get(row, ()):
            self._gated(self.planner.plan(signal, self.book, ts, pending), pending, ts)
        if self.planner.time_stop_bars:
            busy = {(r.symbol, r.tag) for r in (*self.book.working.values(), *pending)}
            for position in self.book.open_positions():
                due = self.planner.time_stop_due(position)
                if position.key not in busy and due is not None and index >= due:
                    self._gated(self.planner.time_stop(position, self.book, ts, pending),
                                pending, ts)
        if pending and self.gate.state is TradingState.HALTED:
            for request in pending:
                self._deny(request, ts, HALT_REASON, "halted before the order was sent")
            return []
        return pending

    def _gated(self, request: OrderRequest | None, pending: list[OrderRequest], ts: int
               ) -> None:
        if request is None:
            return
        self.requests.append(request)
        decision = self.gate.check(request, self.book.exposure(pending, ts),
                                   self.book.last_prices())
        self.decisions.append(decision)
        if decision.approved:
            pending.append(request)
            return
        self._deny(request, ts, decision.reason, decision.detail, decision.state)

    def _deny(self, request: OrderRequest, ts: int, reason: str, detail: str,
              state: TradingState | None = None) -> None:
        self.updates.append(OrderUpdate(request.client_order_id, ts, OrderStatus.DENIED, 0.0,
                                        reason))
        self.events.append(RiskEvent(ts, "denied", reason, detail, request.client_order_id,
                                     request.symbol, state or self.gate.state))
