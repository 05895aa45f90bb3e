"""CandidateTrader: paper-trades one candidate beside the live strategy.

Each candidate sees the same bars as the live slot, has its own virtual book (a
:class:`~core.trading.broker.PaperBroker` with the same fill model) and its own
:class:`~core.trading.risk.RiskEngine`, and walks each step with the same
:func:`~core.trading.walk.walk_batch` as the live pipeline. Positions carry MAE and MFE. The
book and risk state are checkpointed per step; a retried step answers from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray

from actors.live.checkpoint import Checkpoint
from actors.live.executor import SequenceError
from actors.live.history import fetch_history
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.poison import PoisonGuard
from actors.live.subscriber import BarSource
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.trading.align import FeedSlice
from core.trading.broker import PaperBroker
from core.trading.messages import MarketBatch
from core.trading.risk import RiskEngine
from core.trading.runners import StrategyChoice, build_runners, run_batch
from core.trading.slot import SlotOutput
from core.trading.walk import BatchOutcome, walk_batch


@dataclass(frozen=True, slots=True)
class CandidateReport:
    """One step of a candidate.

    Attributes:
        name: Candidate name.
        seq: Step number.
        strategy_id: The candidate's strategy id.
        outcome: Its book's fills, updates, decisions, equity and portfolio.
        diary: Its decisions.
        errors: Strategy errors of the step.
        signals: Its signals.
    """

    name: str
    seq: int
    strategy_id: str
    outcome: BatchOutcome
    diary: tuple[Any, ...]
    errors: tuple[str, ...]
    signals: tuple[Any, ...] = ()


@dataclass
class _CandidateState:
    seq_done: int
    book: Any
    risk: Any
    report: CandidateReport | None = None


class CandidateService:
    """A candidate's logic; :data:`CandidateTrader` is the Ray actor around it.

    Args:
        name: Candidate name.
        choice: Its strategy.
        state_dir: Folder of the session's checkpoints.
        backtest: Fill model and costs (the same as the live book's).
        limits: Effective risk limits.
        guardian: Guardian settings.
        symbols: Traded symbols.
        feed_names: Ray names of the feeds (warm-up after a restart).
        namespace: Ray namespace.
        timeline: The session timeline.
        venue: Venue label.
        timeframe_ms: Bar length.
        session_id: The session (for logs).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Subscribe to the published feeds (for :meth:`on_step`).
    """

    def __init__(self, name: str, choice: StrategyChoice, state_dir: str,
                 backtest: BacktestConfig, limits: RiskLimits, guardian: GuardianConfig,
                 symbols: Sequence[str], feed_names: Sequence[str], namespace: str,
                 timeline: np.ndarray, venue: str, timeframe_ms: int,
                 session_id: str = "", stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 bars: BarSource | None = None) -> None:
        self._bars = bars.subscriber() if bars is not None else None
        self.name = name
        self._runners = build_runners(choice, symbols)
        self._feeds, self._namespace = tuple(feed_names), namespace
        self._timeline, self._venue, self._tf = timeline, venue, timeframe_ms
        self._checkpoint = Checkpoint(state_dir, f"candidate-{name}")
        saved = self._checkpoint.load()
        if saved is None:
            broker = PaperBroker(backtest, symbols, risk=limits)
            risk = RiskEngine(limits, guardian, broker.cash)
            saved = _CandidateState(-1, broker.state, risk.to_state())
        self._state: _CandidateState = saved
        self._known = 0
        self._lock = threading.Lock()
        self._poison = PoisonGuard(state_dir, f"candidate-{name}")
        self._progress = Progress(stuck_after_s, on_stuck=self._poison.mark_stuck)
        self._log = actor_log(session_id, f"candidate {name}")
        self._log.info("candidate started", strategy=self._runners[0].strategy_id,
                       restored_step=self._state.seq_done)

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

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice (see :class:`~actors.live.subscriber.BarSubscriber`)."""
        assert self._bars is not None
        return self._bars.on_bars(part)

    def on_step(self, seq: int, i0: int, i1: int) -> CandidateReport:
        """:meth:`on_batch` on the published bars of step ``seq`` (timeline ``[i0, i1)``)."""
        assert self._bars is not None, "this candidate was built without a bar subscriber"
        with self._lock:
            state = self._state
            if seq == state.seq_done and state.report is not None:
                return state.report
        batch, _ = self._bars.batch(seq, i0, i1)
        return self.on_batch(seq, batch)

    def on_batch(self, seq: int, batch: MarketBatch) -> CandidateReport:
        """Trade step ``seq`` on the candidate's own book (idempotent per step).

        Raises:
            SequenceError: ``seq`` is neither the next step nor a retry of the last.
        """
        with self._lock, self._progress.working(f"candidate step {seq}"):
            report = self._step(seq, batch)
            self._poison.end()
            return report

    def _signals(self, seq: int, batch: MarketBatch, broker: PaperBroker) -> SlotOutput:
        """The strategy's output, or an error once it was disabled for hanging."""
        reason = self._poison.refusal(seq, self._runners[0].strategy_id)
        if reason:
            return SlotOutput(errors=[reason])
        if batch.start > self._known:
            history = fetch_history(self._feeds, self._namespace, self._timeline, self._known,
                                    batch.start, self._venue, self._tf)
            run_batch(self._runners, history)
        output = run_batch(self._runners, batch, broker.portfolio())
        self._known = batch.start + batch.n_bars
        return output

    def _step(self, seq: int, batch: MarketBatch) -> CandidateReport:
        state = self._state
        if seq == state.seq_done and state.report is not None:
            return state.report
        if seq != state.seq_done + 1:
            raise SequenceError(f"candidate {self.name} is at step {state.seq_done}; got {seq}")
        broker = PaperBroker.from_state(state.book)
        output = self._signals(seq, batch, broker)
        engine = RiskEngine.from_state(state.risk)
        outcome = walk_batch(broker, batch, output.signals, engine)
        breaker_events = engine.on_execution(outcome.order_updates)
        if breaker_events:
            outcome = dataclasses.replace(outcome, risk_events=(*outcome.risk_events,
                                                                *breaker_events))
        report = CandidateReport(self.name, seq, self._runners[0].strategy_id, outcome,
                                 tuple(output.diary), tuple(output.errors),
                                 tuple(output.signals))
        self._state = _CandidateState(seq, broker.state, engine.to_state(), report)
        self._checkpoint.save(self._state)
        return report

    def stop(self) -> None:
        """Flush the checkpoint."""
        self._checkpoint.save(self._state)


CandidateTrader = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=2)(CandidateService)
"""The Ray actor (a second thread answers heartbeats while a step runs)."""
