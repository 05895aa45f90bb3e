"""RiskGuardian: the only path to the executor.

For step ``seq`` the guardian rebuilds its shadow of the book from the executor
(``state_before(seq)``), walks the batch with :func:`core.trading.walk.walk_batch` and its
:class:`~core.trading.risk.RiskEngine` as the gate, then hands the executor the batch with the
client order ids it approved, and checks that the executor's book ends where its shadow does
(a mismatch halts trading). Denials, breaker trips and state changes come back as events.

The risk engine's state is checkpointed after each step (with the step's report, so a retried
``process(seq)`` answers from it): a restart goes through the same constructor as a cold start.
The kill switch (command, file or signal) is served at once by a second thread: it latches
HALTED, cancels working orders at the executor, and no order is approved from then on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from actors.live.calls import call_named
from actors.live.checkpoint import Checkpoint
from actors.live.executor import ExecutionReport, SequenceError
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.subscriber import BarSource
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.trading.align import FeedSlice
from core.trading.broker import PaperBroker
from core.trading.messages import MarketBatch, RiskEvent, Signal, TradingState
from core.trading.risk import RiskEngine, RiskState
from core.trading.walk import walk_batch


@dataclass(frozen=True, slots=True)
class GuardianReport:
    """One step through the guardian.

    Attributes:
        seq: Step number.
        execution: The executor's report (fills, updates, equity, book).
        decisions: The guardian's verdict on every order request of the step.
        risk_events: Denials, breaker events, kill switch, stale data, reconcile.
        state: Trading state after the step.
        timings_ms: ``risk`` (the guardian's walk) and ``order`` (the executor's answer).
        stopped: Symbols whose feed has stopped on corrupt data (stale for good).
    """

    seq: int
    execution: ExecutionReport
    decisions: tuple[Any, ...]
    risk_events: tuple[RiskEvent, ...]
    state: TradingState
    timings_ms: dict[str, float] = field(default_factory=dict)
    stopped: tuple[str, ...] = ()


@dataclass
class _GuardianState:
    seq_done: int
    risk: RiskState
    risk_before: RiskState | None = None
    report: GuardianReport | None = None
    pending_events: list[RiskEvent] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)


class GuardianService:
    """The guardian's logic; :data:`RiskGuardian` is the Ray actor around it.

    Args:
        state_dir: Folder of the session's checkpoints.
        limits: Effective risk limits.
        guardian: Guardian settings (price band, breakers, kill-switch file).
        initial_equity: Equity at the session start.
        executor_name: Ray name of the executor actor.
        namespace: Ray namespace of the session's actors.
        session_id: The session (for logs).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Where published bars arrive (None: only :meth:`process` with a batch works).
    """

    def __init__(self, state_dir: str, limits: RiskLimits, guardian: GuardianConfig,
                 initial_equity: float, executor_name: str, namespace: str,
                 session_id: str = "", stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 bars: BarSource | None = None) -> None:
        self._bars = bars.subscriber() if bars is not None else None
        self._lock = threading.Lock()
        self._progress = Progress(stuck_after_s)
        self._guardian = guardian
        self._executor_name, self._namespace = executor_name, namespace
        self._checkpoint = Checkpoint(state_dir, "guardian")
        saved = self._checkpoint.load()
        self._state: _GuardianState = saved if saved is not None else _GuardianState(
            seq_done=-1, risk=RiskEngine(limits, guardian, initial_equity).to_state())
        self._kill_source: str | None = None
        self._last_ts = 0
        self._started_at = time.time()
        self._log = actor_log(session_id, "guardian")
        self._log.info("guardian started", restored_step=self._state.seq_done,
                       state=RiskEngine.from_state(self._state.risk).state.value)

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

    def started_at(self) -> float:
        """Wall time this guardian instance started (for supervision tests)."""
        return self._started_at

    def _call_executor(self, method: str, *args: Any) -> Any:
        return call_named(self._executor_name, self._namespace, method, *args)

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice (see :class:`~actors.live.subscriber.BarSubscriber`)."""
        assert self._bars is not None
        return self._bars.on_bars(part)

    def process_step(self, seq: int, i0: int, i1: int, signals: Sequence[Signal]
                     ) -> GuardianReport:
        """Judge and execute step ``seq`` on its published bars (timeline ``[i0, i1)``).

        A feed found stopped (corrupt bar) for the first time gives a ``feed_error`` event and
        marks its symbol stale. Idempotent per step, like :meth:`process`.

        Raises:
            SequenceError: ``seq`` is neither the next step nor a retry of the last.
        """
        assert self._bars is not None, "this guardian was built without a bar subscriber"
        with self._lock, self._progress.working(f"step {seq}"):
            state = self._state
            if seq == state.seq_done and state.report is not None:
                self._call_executor("execute_step", seq, i0, i1, signals,
                                    state.report.execution.outcome.approved_ids)
                return state.report
            batch, stale = self._bars.batch(seq, i0, i1)
            fresh = {s: r for s, r in stale.items() if s not in state.stopped}
            feed_events = [RiskEvent(int(batch.ts[0]), "feed_error", "corrupt_bar", reason,
                                     symbol=symbol) for symbol, reason in fresh.items()]
            return self._judge(seq, batch, signals, fresh, feed_events, lambda approved:
                               self._call_executor("execute_step", seq, i0, i1, signals,
                                                   approved))

    def process(self, seq: int, batch: MarketBatch, signals: Sequence[Signal],
                stale: dict[str, str] | None = None) -> GuardianReport:
        """Judge and execute step ``seq`` (idempotent per step).

        Args:
            seq: Step number.
            batch: The step's bars.
            signals: The active strategy's signals for these bars.
            stale: Symbols whose feed stopped in this batch, with the reason.

        Raises:
            SequenceError: ``seq`` is neither the next step nor a retry of the last.
        """
        with self._lock, self._progress.working(f"step {seq}"):
            state = self._state
            if seq == state.seq_done and state.report is not None:
                self._call_executor("execute", seq, batch, signals,
                                    state.report.execution.outcome.approved_ids)
                return state.report
            return self._judge(seq, batch, signals, stale or {}, [], lambda approved:
                               self._call_executor("execute", seq, batch, signals, approved))

    def _judge(self, seq: int, batch: MarketBatch, signals: Sequence[Signal],
               stale: dict[str, str], feed_events: list[RiskEvent],
               execute: Callable[[frozenset[str]], ExecutionReport]) -> GuardianReport:
        state = self._state
        if seq != state.seq_done + 1:
            raise SequenceError(f"guardian is at step {state.seq_done}; got step {seq}")
        engine = RiskEngine.from_state(state.risk)
        events: list[RiskEvent] = [*feed_events, *state.pending_events]
        events += self._kill_switch_file(engine, int(batch.ts[0]))
        for symbol, reason in sorted(stale.items()):
            events.append(engine.mark_stale(symbol, int(batch.ts[0]), reason))
        started = time.perf_counter()
        shadow = PaperBroker.from_state(self._call_executor("state_before", seq))
        outcome = walk_batch(shadow, batch, signals, engine)
        walked = time.perf_counter()
        execution = execute(outcome.approved_ids)
        acked = time.perf_counter()
        events += outcome.risk_events
        events += engine.on_execution(execution.outcome.order_updates)
        end_ms = int(batch.ts[-1]) + batch.timeframe_ms
        healthy = {s: int(batch.ts[-1]) for s in batch.symbols
                   if s not in state.stopped and s not in stale}
        events += engine.check_freshness(end_ms, healthy, batch.timeframe_ms)
        if execution.state_hash != shadow.state_hash() and not execution.halted:
            events += engine.engage_kill_switch(int(batch.ts[-1]), "reconcile_mismatch")
            self._log.error("executor book differs from the guardian's shadow: halted",
                            step=seq)
        if self._kill_source is not None and engine.state is not TradingState.HALTED:
            events += engine.engage_kill_switch(int(batch.ts[-1]), self._kill_source)
        stopped = {**state.stopped, **stale}
        report = GuardianReport(seq, execution, outcome.decisions, tuple(events),
                                engine.state, {"risk": (walked - started) * 1e3,
                                               "order": (acked - walked) * 1e3},
                                stopped=tuple(sorted(stopped)))
        self._state = _GuardianState(seq_done=seq, risk=engine.to_state(),
                                     risk_before=state.risk, report=report, stopped=stopped)
        self._checkpoint.save(self._state)
        self._last_ts = int(batch.ts[-1])
        return report

    def _kill_switch_file(self, engine: RiskEngine, ts: int) -> list[RiskEvent]:
        path = self._guardian.kill_switch_file
        if path and Path(path).exists() and engine.state is not TradingState.HALTED:
            self._kill_source = self._kill_source or "file"
            self._call_executor("halt", ts, "kill_switch:file")
            return engine.engage_kill_switch(ts, "file")
        return []

    def engage_kill_switch(self, source: str) -> dict[str, Any]:
        """Halt all trading now: latch HALTED and cancel every working order.

        Served by a second thread while a step runs; the running step's end state is
        halted too, and the executor refuses every order from now on.

        Returns:
            ``{"cancelled": n, "elapsed_ms": t}``.
        """
        started = time.perf_counter()
        self._kill_source = source
        self._log.warning("kill switch engaged", source=source)
        updates = self._call_executor("halt", self._last_ts, f"kill_switch:{source}")
        if self._lock.acquire(timeout=0.05):
            try:
                engine = RiskEngine.from_state(self._state.risk)
                if engine.state is not TradingState.HALTED:
                    self._state.pending_events.extend(
                        engine.engage_kill_switch(self._last_ts, source))
                    self._state.risk = engine.to_state()
                    self._checkpoint.save(self._state)
            finally:
                self._lock.release()
        return {"cancelled": len(updates), "elapsed_ms": (time.perf_counter() - started) * 1e3}

    def trading_state(self) -> str:
        """ACTIVE, REDUCING or HALTED."""
        if self._kill_source is not None:
            return TradingState.HALTED.value
        return RiskEngine.from_state(self._state.risk).state.value

    def denial_counts(self) -> dict[str, int]:
        """Denials per reason code so far."""
        return RiskEngine.from_state(self._state.risk).denial_counts

    def stop(self) -> None:
        """Flush the checkpoint."""
        with self._lock:
            self._checkpoint.save(self._state)


RiskGuardian = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=4)(GuardianService)
"""The Ray actor (threaded: the kill switch is served while a step runs)."""
