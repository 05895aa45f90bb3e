"""CandidateTrader: paper-trades one candidate beside the live strategy, on its own.

Each candidate sees the same published bars as the live slot (conflated: the feeds push what
accumulated every few hundred milliseconds), runs its own strategy, and trades its own
virtual book: the same trading loop as the guardian with its own paper venue in process
(:class:`~core.trading.book.PaperBook`) and its own
:class:`~core.trading.risk.RiskEngine`. Nobody waits for it: it processes the steps in
order as they arrive, sends its records to the store in batches and snapshots itself off its
path. Positions carry MAE and MFE.

A restarted candidate loads its snapshot, warms its strategy up from the feeds' history,
and trades the steps after the snapshot again from the feeds' bars: its book and records come
out the same (the store ignores records it already has). A step missed while it was down is
replayed from the feed. :meth:`CandidateService.finish` brings it to the session's last step.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray

from actors.live.calls import ActorDirectory
from actors.live.checkpoint import Checkpoint
from actors.live.history import fetch_history
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress, run_bounded
from actors.live.logs import actor_log
from actors.live.poison import PoisonGuard
from actors.live.priority import background
from actors.live.records import book_records
from actors.live.roster_file import RosterFile
from actors.live.snapshots import Snapshotter
from actors.live.store_writer import StoreWriter
from actors.live.subscriber import PUSH_WAIT_S, BarSource
from actors.live.window import batch_bounds
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.governance.drift import DriftModel
from core.governance.sentry import Sentry, SentryState
from core.trading.align import FeedSlice
from core.trading.book import PaperBook, PaperBookState
from core.trading.messages import MarketBatch, RiskEvent
from core.trading.risk import RiskEngine, RiskState
from core.trading.runners import StrategyChoice, build_runners, run_batch
from core.trading.slot import SlotOutput
from core.trading.trader import StepOutcome
from core.trading.warmup import warm_up_strategy, warm_up_trading

INBOX_STEPS = 256
"""Steps a candidate's inbox holds (conflated pushes bring many at once)."""


@dataclass(frozen=True, slots=True)
class CandidateSnapshot:
    """A candidate's state after step ``seq_done``.

    Attributes:
        seq_done: Last step traded.
        book: Its trader and paper venue.
        risk: Its risk engine.
    """

    seq_done: int
    book: PaperBookState
    risk: RiskState
    sentry: SentryState | None = None


@dataclass(frozen=True, slots=True)
class CandidateStatus:
    """Where a candidate is (for ``status`` and tests).

    Attributes:
        name: Candidate name.
        seq_done: Last step traded.
        equity: Equity of its book.
        fills: Fills since this instance started.
    """

    name: str
    seq_done: int
    equity: float
    fills: int


class CandidateService:
    """A candidate's logic; :data:`~actors.live.shells.CandidateTrader` is the Ray actor around it.

    Args:
        name: Candidate name.
        choice: Its strategy.
        state_dir: Folder of the session's snapshots.
        backtest: Fill model and costs (the same as the live book's).
        limits: Effective risk limits.
        guardian: Guardian settings.
        symbols: Traded symbols.
        feed_names: Ray names of the feeds.
        namespace: Ray namespace.
        timeline: The session timeline.
        venue: Venue label.
        timeframe_ms: Bar length.
        step_bars: Bars per session step (1 when paced).
        store: Ray name of the store actor ("" = records are not stored).
        session_id: The session (for logs).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Subscribe to the published feeds.
        snapshot_s: Least time between two snapshots.
        drift_model: JSON of the candidate's drift model ("" = none): its live returns are
            watched against its backtest expectation from its first bar (alarms are risk
            events of its book).
        first_seq: Its first step (a candidate added while the session runs starts flat
            there, its strategy warmed up from the feeds' history).
        roster: The session's initial candidate names: its last step comes from the
            session's roster (:mod:`actors.live.roster_file`) once it is removed.
    """

    def __init__(self, name: str, choice: StrategyChoice, state_dir: str,
                 backtest: BacktestConfig, limits: RiskLimits, guardian: GuardianConfig,
                 symbols: Sequence[str], feed_names: Sequence[str], namespace: str,
                 timeline: np.ndarray, venue: str, timeframe_ms: int, step_bars: int = 1,
                 store: str = "", session_id: str = "",
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S, bars: BarSource | None = None,
                 snapshot_s: float = 2.0, drift_model: str = "", first_seq: int = 0,
                 roster: Sequence[str] = ()) -> None:
        if bars is not None:  # an actor: the live path gets the CPU first
            background()
        self.name = name
        self._book_name = f"candidate:{name}"
        self._runners = build_runners(choice, symbols)
        self._feeds, self._namespace = tuple(feed_names), namespace
        self._timeline, self._venue, self._tf = timeline, venue, timeframe_ms
        self._bounds = batch_bounds(timeline, step_bars)
        self._book = PaperBook(backtest, symbols, timeframe_ms, risk=limits,
                               gate=RiskEngine(limits, guardian, backtest.initial_cash))
        self._checkpoint = Checkpoint(state_dir, f"candidate-{name}")
        saved: CandidateSnapshot | None = self._checkpoint.load()
        self._bars = (bars.subscriber(INBOX_STEPS, joined_late=saved is not None
                                      or first_seq > 0, start_after=first_seq - 1)
                      if bars is not None else None)
        self._roster = RosterFile(state_dir if bars is not None else "", roster)
        self._seq_done = first_seq - 1
        model = DriftModel.from_dict(json.loads(drift_model)) if drift_model else None
        self._sentry = (Sentry(model.policy, model, 100.0,
                               state=saved.sentry if saved is not None else None)
                        if model is not None else None)
        if saved is not None:
            self._book.restore(saved.book)
            self._book.trader.gate = RiskEngine.from_state(saved.risk)
            self._seq_done = saved.seq_done
        elif first_seq > 0:
            self._book.open_at(self._bounds[first_seq][0])
        self._known = 0
        self._poison = PoisonGuard(state_dir, f"candidate-{name}")
        self._progress = Progress(stuck_after_s, on_stuck=self._poison.mark_stuck)
        self._log = actor_log(session_id, f"candidate {name}")
        directory = ActorDirectory(namespace, 60.0)
        self._store = StoreWriter(directory, store, interval_s=0.5) if store else None
        self._snapshots = Snapshotter(
            self._checkpoint, snapshot_s,
            before_write=self._store.confirm if self._store is not None else None,
            on_error=lambda e: self._log.error("snapshot failed", error=str(e)))
        warm_up_trading(backtest, symbols, timeframe_ms, limits)
        if not run_bounded(lambda: warm_up_strategy(choice, symbols, timeframe_ms),
                           stuck_after_s, f"candidate-{name}-warm-up"):
            self._log.warning("strategy warm-up still runs: left behind", limit_s=stuck_after_s)
        self.fills = 0
        self._work = threading.Condition()
        self._target = -1
        self._failure: str | None = None
        if self._bars is not None:
            threading.Thread(target=self._trading_loop, name="candidate-trading",
                             daemon=True).start()
        self._log.info("candidate started", strategy=self._runners[0].strategy_id,
                       restored_step=self._seq_done, first_step=first_seq)

    # --- liveness ------------------------------------------------------------------------

    def ping(self) -> str:
        """Heartbeat: fails while a step has run past ``stuck_after_s`` (no progress).

        Raises:
            StuckError: The current step is stuck.
            RuntimeError: The trading thread failed (the supervisor restarts the actor).
        """
        if self._failure is not None:
            raise RuntimeError(f"candidate {self.name} failed: {self._failure}")
        self._progress.check()
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def status(self) -> CandidateStatus:
        """Last step traded, equity, fills."""
        return CandidateStatus(self.name, self._seq_done,
                               float(self._book.portfolio.equity()), self.fills)

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    # --- bars in, steps out --------------------------------------------------------------

    def on_bars(self, part: FeedSlice) -> str:
        """One published slice (queued; the trading thread takes it)."""
        assert self._bars is not None, "this candidate was built without a bar subscriber"
        verdict = self._bars.on_bars(part)
        self._wake()
        return verdict

    def on_bars_many(self, parts: list[Any]) -> None:
        """Conflated slices (object refs or slices), queued for the trading thread."""
        assert self._bars is not None, "this candidate was built without a bar subscriber"
        for part in parts:
            self._bars.on_bars(part if isinstance(part, FeedSlice) else ray.get(part))
        self._wake()

    def finish(self, last_seq: int, timeout_s: float = 600.0) -> CandidateStatus:
        """Trade every step up to ``last_seq`` and store everything.

        Steps whose bars never arrived are asked of the feeds.

        Raises:
            TimeoutError: The candidate did not get there in time.
        """
        with self._work:
            self._target = max(self._target, last_seq)
            self._work.notify_all()
            if not self._work.wait_for(lambda: self._seq_done >= min(
                    last_seq, self._last_step()) or self._failure is not None,
                    timeout=timeout_s):
                raise TimeoutError(f"candidate {self.name} is at step {self._seq_done}, not "
                                   f"{last_seq}, after {timeout_s:g} s")
            if self._failure is not None:
                raise RuntimeError(f"candidate {self.name} failed: {self._failure}")
        if self._store is not None:
            self._store.flush()
        self._snapshots.flush()
        return self.status()

    def _wake(self) -> None:
        with self._work:
            self._work.notify_all()

    def _trading_loop(self) -> None:
        """Trade the steps in order as their bars arrive (or up to a finish target)."""
        assert self._bars is not None
        while True:
            with self._work:
                self._work.wait_for(self._has_work)
                target = max(self._target, self._held_through())
            try:
                for seq in range(self._seq_done + 1, min(target, self._last_step()) + 1):
                    i0, i1 = self._bounds[seq]
                    # steps up to a finish target were all published: replay, do not wait
                    batch, _ = self._bars.batch(
                        seq, i0, i1, wait_s=0.0 if seq <= self._target else PUSH_WAIT_S)
                    self._step(seq, batch)
                    with self._work:
                        self._work.notify_all()
            except Exception as exc:  # noqa: BLE001 - reported through ping; restarted
                self._failure = f"{type(exc).__name__}: {exc}"
                self._log.error("candidate step failed", error=self._failure)
                with self._work:
                    self._work.notify_all()
                return

    def _held_through(self) -> int:
        assert self._bars is not None
        held = self._bars.held()
        return held[-1][0] if held else -1

    def _has_work(self) -> bool:
        return min(max(self._target, self._held_through()), self._last_step()) > self._seq_done

    def _last_step(self) -> int:
        """The session's last step, or the step before the candidate's removal."""
        membership = self._roster.current().membership(self.name)
        last = membership.last if membership is not None else None
        return len(self._bounds) - 1 if last is None else min(last, len(self._bounds) - 1)

    def _step(self, seq: int, batch: MarketBatch) -> None:
        with self._progress.working(f"candidate step {seq}"):
            output = self._signals(seq, batch)
            outcome = self._book.step(batch, output.signals)
            self._poison.end()
        self.fills += len(outcome.fills)
        self._seq_done = seq
        alarms = self._watch(batch, outcome)
        if self._store is not None:
            self._store.put(seq, [self._records(outcome, batch, output, alarms)])
        self._snapshots.offer(seq, CandidateSnapshot(
            seq, self._book.state, self._book.trader.gate.to_state(),
            self._sentry.state if self._sentry is not None else None))

    def _watch(self, batch: MarketBatch, outcome: StepOutcome) -> list[RiskEvent]:
        """The candidate's drift alarms of the step (regimes are the live book's diary)."""
        if self._sentry is None:
            return []
        return [RiskEvent(e.ts, "governance", e.kind,
                          f"candidate {self.name}: {e.detail['detector']} "
                          f"{e.detail['statistic']:.3f} > {e.detail['threshold']:.3f} after "
                          f"{e.detail['bars']} bars")
                for e in self._sentry.observe(batch.ts, outcome.equity, batch.close[:, 0])
                if e.kind == "drift_alarm"]

    def _records(self, outcome: StepOutcome, batch: MarketBatch, output: SlotOutput,
                 alarms: list[RiskEvent]) -> Any:
        errors = [RiskEvent(int(batch.ts[0]), "strategy_error", "strategy_error", e)
                  for e in output.errors]
        return book_records(self._book_name, outcome, batch.ts, output,
                            [*errors, *alarms, *outcome.risk_events])

    def _signals(self, seq: int, batch: MarketBatch) -> SlotOutput:
        """The strategy's output, or an error once it was disabled for hanging."""
        reason = self._poison.refusal(seq, self._runners[0].strategy_id)
        if reason:
            return SlotOutput(errors=[reason])
        if batch.start > self._known:
            history = fetch_history(self._feeds, self._namespace, self._timeline, self._known,
                                    batch.start, self._venue, self._tf)
            run_batch(self._runners, history)
        output = run_batch(self._runners, batch, None)
        self._known = batch.start + batch.n_bars
        return output

    def on_batch(self, seq: int, batch: MarketBatch) -> SlotOutput:
        """Trade step ``seq`` with the bars given (in-process use and tests); its output."""
        output = self._signals(seq, batch)
        self._watch(batch, self._book.step(batch, output.signals))
        self._seq_done = seq
        return output

    def stop(self) -> None:
        """Flush records and the snapshot."""
        if self._store is not None:
            self._store.flush()
        self._snapshots.flush()
