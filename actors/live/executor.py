"""Executor: the paper broker as a Ray actor, fed only by the risk guardian.

Each SIM step ``seq`` arrives once from the guardian with the client order ids it approved;
the executor walks the batch with :func:`core.trading.walk.walk_batch` and the
:class:`~core.trading.walk.ApprovedOnly` gate, so an order the guardian did not approve can
never be placed. The outcome of the last step and the book before it are checkpointed: a
retried ``execute(seq)`` (the guardian died before it got the answer) returns the recorded
outcome instead of trading twice, and ``state_before(seq)`` lets a restarted guardian rebuild
its shadow of the book.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ray

from actors.live.checkpoint import Checkpoint
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.subscriber import BarSource
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.errors import EvotraderError
from core.trading.align import FeedSlice
from core.trading.broker import PaperBroker
from core.trading.messages import MarketBatch, OrderUpdate, PortfolioSnapshot, Signal
from core.trading.walk import ApprovedOnly, BatchOutcome, walk_batch

CALL_LOG_SIZE = 10_000
"""``execute`` calls remembered for :meth:`ExecutorService.call_log` (bounded)."""


class SequenceError(EvotraderError):
    """A step arrived out of order (neither the next one nor a retry of the last one)."""


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What the executor did in step ``seq``.

    Attributes:
        seq: Step number.
        outcome: Fills, order updates, equity per bar, final portfolio.
        state_hash: Hash of the book after the step (the guardian compares its shadow).
        halted: True when the executor refused new orders (kill switch).
        out_of_band: Order updates made between steps (kill-switch cancels), reported with
            the next step.
    """

    seq: int
    outcome: BatchOutcome
    state_hash: str
    halted: bool
    out_of_band: tuple[OrderUpdate, ...] = ()


@dataclass
class _ExecutorState:
    seq_done: int = -1
    book: Any = None
    book_before: Any = None
    report: ExecutionReport | None = None
    halted: bool = False
    halt_reason: str = ""
    extra_updates: list[OrderUpdate] = field(default_factory=list)


class ExecutorService:
    """The executor's logic; :data:`Executor` is the Ray actor around it.

    Args:
        state_dir: Folder of the session's checkpoints.
        backtest: Fill model, costs, sizing and stops (the backtester's configuration).
        risk: Effective risk limits (they cap order sizing exactly as in the backtester).
        symbols: Traded symbols, in column order.
        session_id: The session (for logs).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Where published bars arrive (None: only :meth:`execute` with a batch works).
    """

    def __init__(self, state_dir: str, backtest: BacktestConfig, risk: RiskLimits | None,
                 symbols: Sequence[str], session_id: str = "",
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 bars: BarSource | None = None) -> None:
        self._bars = bars.subscriber() if bars is not None else None
        self._lock = threading.Lock()
        self._progress = Progress(stuck_after_s)
        self._checkpoint = Checkpoint(state_dir, "executor")
        saved = self._checkpoint.load()
        broker = PaperBroker(backtest, symbols, risk=risk)
        self._state = saved if saved is not None else _ExecutorState(book=broker.state)
        self._broker = PaperBroker.from_state(self._state.book)
        self.calls: deque[tuple[int, float, int]] = deque(maxlen=CALL_LOG_SIZE)
        self._log = actor_log(session_id, "executor")
        self._log.info("executor started", restored_step=self._state.seq_done,
                       halted=self._state.halted)

    def ping(self) -> str:
        """Heartbeat: fails while a step has run past ``stuck_after_s`` (no progress).

        Raises:
            StuckError: The current step is stuck.
        """
        self._progress.check()
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def seq_done(self) -> int:
        """The last step executed (-1 before the first)."""
        return self._state.seq_done

    def state_before(self, seq: int) -> Any:
        """The book as it was before step ``seq`` (the next step, or a retry of the last).

        Raises:
            SequenceError: ``seq`` is neither.
        """
        with self._lock:
            if seq == self._state.seq_done + 1:
                return self._broker.state
            if seq == self._state.seq_done:
                return self._state.book_before
            raise SequenceError(f"executor is at step {self._state.seq_done}; cannot give the "
                                f"book before step {seq}")

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice (see :class:`~actors.live.subscriber.BarSubscriber`)."""
        assert self._bars is not None
        return self._bars.on_bars(part)

    def execute_step(self, seq: int, i0: int, i1: int, signals: Sequence[Signal],
                     approved: frozenset[str]) -> ExecutionReport:
        """:meth:`execute` on the published bars of step ``seq`` (timeline ``[i0, i1)``)."""
        with self._lock:
            state = self._state
            if seq == state.seq_done and state.report is not None:
                return state.report
        assert self._bars is not None, "this executor was built without a bar subscriber"
        batch, _ = self._bars.batch(seq, i0, i1)
        return self.execute(seq, batch, signals, approved)

    def execute(self, seq: int, batch: MarketBatch, signals: Sequence[Signal],
                approved: frozenset[str]) -> ExecutionReport:
        """Walk step ``seq`` placing exactly the ``approved`` orders (idempotent per step).

        Raises:
            SequenceError: ``seq`` is neither the next step nor a retry of the last.
        """
        with self._lock, self._progress.working(f"step {seq}"):
            self.calls.append((seq, time.time(), len(approved)))
            state = self._state
            if seq == state.seq_done and state.report is not None:
                return state.report
            if seq != state.seq_done + 1:
                raise SequenceError(f"executor is at step {state.seq_done}; got step {seq}")
            before = self._broker.state
            gate = ApprovedOnly(frozenset() if state.halted else frozenset(approved))
            outcome = walk_batch(self._broker, batch, signals, gate)
            report = ExecutionReport(seq, outcome, self._broker.state_hash(), state.halted,
                                     tuple(state.extra_updates))
            self._state = _ExecutorState(seq_done=seq, book=self._broker.state,
                                         book_before=before, report=report,
                                         halted=state.halted, halt_reason=state.halt_reason)
            self._checkpoint.save(self._state)
            return report

    def halt(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Kill switch: cancel every working order and refuse new ones for the session."""
        with self._lock:
            updates = self._broker.cancel_all(ts, reason)
            self._log.warning("halted: working orders cancelled", reason=reason,
                              cancelled=len(updates))
            self._state.halted, self._state.halt_reason = True, reason
            self._state.book = self._broker.state
            self._state.extra_updates.extend(updates)
            self._checkpoint.save(self._state)
            return updates

    def working_orders(self) -> int:
        """Number of working (accepted, unfilled) orders."""
        with self._lock:
            return len(self._broker.working_orders())

    def portfolio(self, ts: int) -> PortfolioSnapshot:
        """The book marked at the last known closes."""
        with self._lock:
            return self._broker.portfolio(ts)

    def call_log(self) -> list[tuple[int, float, int]]:
        """(seq, wall time, approved orders) of the last ``execute`` calls since this start."""
        return list(self.calls)

    def stop(self) -> None:
        """Flush the checkpoint (it is already written after every step)."""
        with self._lock:
            self._checkpoint.save(self._state)


Executor = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=4)(ExecutorService)
"""The Ray actor (threaded: ``halt`` is served while a step runs)."""
