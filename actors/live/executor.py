"""Executor: the execution client as a Ray actor, fed only by the risk guardian.

It holds one :class:`~core.trading.execution.ExecutionClient` (the paper client in SIM; a
venue client in the next modes) and applies exactly what the guardian sends: each
:meth:`ExecutorService.exchange` of step ``seq`` syncs the venue, submits the approved
requests, advances it over the step's published bars and answers the venue's events since
the guardian's cursor (with a preview of the following bars: see
:mod:`core.trading.execution`). It never sizes or derives an order.

Idempotent: exchange ``op`` of step ``seq`` is answered from a cache when it is asked again
with the same arguments (the guardian retried, or re-ran the step after its own restart).
State: a snapshot written off the acknowledgement path at step boundaries, plus the
guardian's journal: a restarted executor loads its snapshot and replays the journal's
exchanges through the same client code, so it is at the end of the last journaled step. A
step the guardian had not journaled yet is re-run by the guardian from its start
(:class:`StepLostError` tells it so).

The kill switch (:meth:`ExecutorService.halt`) cancels working orders and refuses new ones;
it is recorded at once in ``executor.halt`` and applied again after any restart.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.adapters.journal import Journal
from actors.live.book_log import BookLog
from actors.live.calls import SequenceError
from actors.live.checkpoint import Checkpoint
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.priority import latency_critical
from actors.live.snapshots import Snapshotter, write_mark
from actors.live.subscriber import BarSource
from actors.live.venue_spec import VenueBookSpec
from actors.live.wal_records import StepRecord
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.errors import EvotraderError, ExchangeError
from core.trading.align import FeedSlice
from core.trading.book_walk import BookSnapshot
from core.trading.execution import AccountReport, Exchange, venue_exchange
from core.trading.messages import MarketBatch, OrderRequest, OrderUpdate, PortfolioSnapshot
from core.trading.paper import PaperClient, PaperState
from core.trading.replay import ExchangeRequest, without_preview
from core.trading.warmup import warm_up_trading

HALT_FILE = "executor.halt"
SNAPSHOT_FINISHED = 16
"""Finished orders a snapshot keeps: a step boundary's retries concern working orders only."""


class StepLostError(EvotraderError):
    """The executor restarted during the step: the guardian must run the step again."""


def answer_again(cache: dict[int, tuple[ExchangeRequest, Exchange]], seq: int, op: int,
                 request: ExchangeRequest) -> Exchange:
    """The cached reply to exchange ``op`` of step ``seq``, asked again (a retry).

    Raises:
        SequenceError: It was asked before with other arguments.
    """
    asked, reply = cache[op]
    if asked != request:
        raise SequenceError(f"step {seq} exchange {op} asked again with other arguments")
    return reply


@dataclass(frozen=True, slots=True)
class ExecutorSnapshot:
    """The executor's durable state at the end of step ``step``.

    Attributes:
        step: The step whose exchanges are all applied (-1 before the first).
        client: The paper client's account (without its event history).
        exchanges: That step's last exchange and reply (without preview), to answer it again
            after a restart (the guardian resends the step's last exchange).
        first_op: Number of that exchange in the step.
    """

    step: int
    client: PaperState
    exchanges: tuple[tuple[ExchangeRequest, Exchange], ...] = ()
    first_op: int = 0


class ExecutorService:
    """The executor's logic; :data:`~actors.live.shells.Executor` is the Ray actor around it.

    Args:
        state_dir: Folder of the session's state (snapshots, the guardian's journal).
        backtest: Fill model, costs, sizing caps and stops (the backtester's configuration).
        risk: Effective risk limits (they cap fill quantities exactly as in the backtester).
        symbols: Traded symbols, in column order.
        session_id: The session (for logs).
        stuck_after_s: A call running longer fails the heartbeat.
        bars: Where published bars arrive (None: only :meth:`exchange_batch` works).
        snapshot_s: Least time between two snapshots.
    """

    def __init__(self, state_dir: str, backtest: BacktestConfig, risk: RiskLimits | None,
                 symbols: Sequence[str], session_id: str = "",
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 bars: BarSource | None = None, snapshot_s: float = 1.0,
                 books: VenueBookSpec | None = None) -> None:
        if bars is not None:  # an actor (not an in-process test)
            latency_critical()
        self._state_dir = state_dir
        self._lock = threading.RLock()
        self._progress = Progress(stuck_after_s)
        self._log = actor_log(session_id, "executor")
        self._checkpoint = Checkpoint(state_dir, "executor")
        saved: ExecutorSnapshot | None = self._checkpoint.load()
        self._bars = (bars.subscriber(joined_late=saved is not None) if bars is not None
                      else None)
        self._client = (PaperClient.from_state(saved.client) if saved is not None
                        else PaperClient(backtest, symbols, risk=risk))
        self._seq_done = saved.step - 1 if saved is not None else -1
        self._snapshots = Snapshotter(self._checkpoint, snapshot_s,
                                      on_written=lambda seq: write_mark(state_dir, "executor",
                                                                        seq),
                                      on_error=lambda e: self._log.error(
                                          "snapshot failed", error=str(e)))
        self._step: int | None = saved.step if saved is not None and saved.step >= 0 else None
        self._cache: dict[int, tuple[ExchangeRequest, Exchange]] = (
            {saved.first_op + k: pair for k, pair in enumerate(saved.exchanges)}
            if saved is not None else {})
        self._ops = (saved.first_op + len(saved.exchanges)) if saved is not None else 0
        self._batch: MarketBatch | None = None
        self._recovered = False
        self._books = None
        if books is not None:
            from actors.adapters.ccxt_books import VenueBooks  # ccxt only where it is used

            self._books = VenueBooks(books.exchange_id, books.api_url, books.timeout_ms,
                                     books.depth)
        self._book_log = BookLog(state_dir)
        warm_up_trading(backtest, symbols, bars.timeframe_ms if bars is not None else 60_000,
                        risk)
        self._log.info("executor started", restored_step=self.seq_done())

    # --- liveness ------------------------------------------------------------------------

    def ping(self) -> str:
        """Heartbeat: fails while a call has run past ``stuck_after_s`` (no progress).

        Raises:
            StuckError: The current call is stuck.
        """
        self._progress.check()
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def seq_done(self) -> int:
        """The last step whose exchanges are all applied (-1 before the first)."""
        return self._seq_done if self._step is None else self._step

    # --- bars ----------------------------------------------------------------------------

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice (see :class:`~actors.live.subscriber.BarSubscriber`)."""
        assert self._bars is not None
        return self._bars.on_bars(part)

    def _step_batch(self, seq: int, i0: int, i1: int) -> MarketBatch:
        assert self._bars is not None, "this executor was built without a bar subscriber"
        return self._bars.batch(seq, i0, i1)[0]

    # --- the exchange --------------------------------------------------------------------

    def exchange(self, seq: int, i0: int, i1: int, op: int, request: ExchangeRequest
                 ) -> Exchange:
        """Exchange ``op`` of step ``seq`` on the published bars of timeline ``[i0, i1)``.

        Raises:
            StepLostError: The executor restarted during step ``seq`` (run it again).
            SequenceError: ``seq`` is neither the current step, nor the next one.
        """
        with self._lock, self._progress.working(f"step {seq} exchange {op}"):
            self._recover()
            return self._exchange(seq, op, request, lambda: self._step_batch(seq, i0, i1))

    def exchange_packed(self, args: tuple[int, int, int, int, ExchangeRequest]) -> Exchange:
        """:meth:`exchange` with its arguments in one tuple (the compiled-graph entry)."""
        return self.exchange(*args)

    def exchange_batch(self, seq: int, batch: MarketBatch, op: int, request: ExchangeRequest
                       ) -> Exchange:
        """:meth:`exchange` with the bars given (in-process use and tests)."""
        with self._lock, self._progress.working(f"step {seq} exchange {op}"):
            self._recovered = True
            return self._exchange(seq, op, request, lambda: batch)

    def _exchange(self, seq: int, op: int, request: ExchangeRequest,
                  batch_of: Any) -> Exchange:
        current = self._step if self._step is not None else self._seq_done
        if seq == self._step and op in self._cache:
            return answer_again(self._cache, seq, op, request)
        if seq == self._step and op == self._ops:
            pass
        elif seq == current + 1 and op == 0:
            self._begin(seq, batch_of())
        elif seq == current + 1 or seq == self._step:
            raise StepLostError(f"executor restarted during step {seq}: run it again")
        else:
            raise SequenceError(f"executor is at step {current}; got step {seq} "
                                f"exchange {op}")
        assert self._batch is not None
        self._quote(request.submit)
        reply = venue_exchange(self._client, self._batch, request.since, request.sync_to,
                               request.submit, request.advance_to, request.preview_to)
        self._cache[op] = (request, reply)
        self._ops = op + 1
        return reply

    def _begin(self, seq: int, batch: MarketBatch) -> None:
        """Step ``seq`` starts: the previous one is complete (and journaled)."""
        if self._step is not None:
            self._seq_done = self._step
            self._snapshots.offer(self._step, self._snapshot())
        self._step, self._cache, self._ops, self._batch = seq, {}, 0, batch

    def _snapshot(self) -> ExecutorSnapshot:
        """The state at the end of the current step (taken before the next one starts)."""
        full = self._client.state
        state = dataclasses.replace(full, events=(), finished=full.finished[-SNAPSHOT_FINISHED:])
        last = tuple((request, without_preview(reply)) for request, reply in
                     ([self._cache[self._ops - 1]] if self._ops - 1 in self._cache else []))
        return ExecutorSnapshot(self._step if self._step is not None else -1, state, last,
                                self._ops - len(last))

    def _quote(self, requests: Sequence[OrderRequest]) -> None:
        """PAPER fills on the venue's book: read each new order's book once, durably.

        A replay takes the recorded book (or the record that it could not be read, so the
        order fills by the model again, as it did).
        """
        if self._books is None:
            return
        quotes: dict[str, BookSnapshot] = {}
        for request in requests:
            coid = request.client_order_id
            if self._client.order(coid) is not None:
                continue  # submitted already: a retried exchange
            if coid not in self._book_log:
                try:
                    self._book_log.append(coid, self._books.snapshot(request.symbol))
                except ExchangeError as exc:
                    self._log.warning("order book unavailable: the order fills by the model",
                                      client_order_id=coid, error=str(exc))
                    self._book_log.append(coid, None)
            book = self._book_log.get(coid)
            if book is not None:
                quotes[coid] = book
        self._client.quote_books(quotes)

    # --- recovery ------------------------------------------------------------------------

    def _recover(self) -> None:
        """Replay the journal after the snapshot (once, before the first exchange)."""
        if self._recovered:
            return
        replayed = 0
        halt = self._halt_record()
        after = self._step if self._step is not None else self._seq_done
        for seq, record in Journal(self._state_dir).records(after=after):
            assert isinstance(record, StepRecord)
            batch = self._step_batch(seq, record.i0, record.i1)
            self._begin(seq, batch)
            for op, request in enumerate(record.requests):
                self._halt_at(halt, seq, op)
                self._quote(request.submit)
                reply = venue_exchange(self._client, batch, request.since, request.sync_to,
                                       request.submit, request.advance_to,
                                       request.preview_to)
                self._cache[op] = (request, reply)
                self._ops = op + 1
            replayed += 1
        self._halt_at(halt, None, None)
        self._recovered = True
        if replayed:
            self._log.info("journal replayed", steps=replayed, at_step=self._step)

    # --- kill switch, reports ------------------------------------------------------------

    def halt(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Kill switch: cancel every working order and refuse new ones for the session.

        Where it happened (step and exchange) is recorded at once, so a restarted executor
        replaying the journal applies it at the same point.
        """
        with self._lock:
            self._recover()  # the halt comes after every journaled step
            if self._client.halted:
                return []
            step = self._step if self._step is not None else self._seq_done
            path = Path(self._state_dir) / HALT_FILE
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"ts": int(ts), "reason": reason, "step": step,
                                             "op": self._ops}))
            temporary.replace(path)
            updates = self._client.halt(ts, reason)
        self._log.warning("halted: working orders cancelled", reason=reason,
                          cancelled=len(updates))
        return updates

    def _halt_record(self) -> dict[str, Any] | None:
        path = Path(self._state_dir) / HALT_FILE
        if not path.exists():
            return None
        return dict(json.loads(path.read_text()))

    def _halt_at(self, halt: dict[str, Any] | None, seq: int | None, op: int | None) -> None:
        """Apply a recorded kill switch when replay reaches its point (None: at the end)."""
        if halt is None or self._client.halted:
            return
        if seq is None or (seq, op) >= (int(halt["step"]), int(halt["op"])):
            self._client.halt(int(halt["ts"]), str(halt["reason"]))

    def cancel_all(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Cancel every working order (end of session); later events report them."""
        with self._lock:
            self._recover()
            return self._client.cancel(None, ts, reason)

    def account(self) -> AccountReport:
        """The venue account (for the guardian's reconciliation)."""
        with self._lock:
            return self._client.account()

    def events_since(self, since: int) -> Any:
        """The client's events after ``since`` (see :meth:`ExecutionClient.events_since`)."""
        with self._lock:
            return self._client.events_since(since)

    def working_orders(self) -> int:
        """Number of working (accepted, unfilled) orders."""
        with self._lock:
            return len(self._client.account().working)

    def portfolio(self, ts: int) -> PortfolioSnapshot:
        """Cash and positions at the last marks (for status displays)."""
        with self._lock:
            account = self._client.account()
            return PortfolioSnapshot(ts, account.cash, self._client.equity(), 0.0, ())

    def stop(self) -> None:
        """Write the last snapshot offered (the journal covers the steps after it)."""
        self._snapshots.flush()


__all__ = ["ExecutorService", "ExecutorSnapshot", "SequenceError",
           "StepLostError", "answer_again", "without_preview"]
