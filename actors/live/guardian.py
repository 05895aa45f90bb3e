"""RiskGuardian: planner + risk engine + a portfolio built from the executor's events.

The guardian is the only path to the executor. For step ``seq`` it takes the active slot's
signals (pushed by the slot when the step's bars reached it; asked for when they are late),
applies the step's inputs (feeds found stopped, a kill switch), and runs the one trading loop
(:class:`~core.trading.trader.Trader`) over the step's published bars with the executor as
its venue (:class:`~actors.live.executor_link.ExecutorLink`): one round trip per bar where
it submits orders (the paper venue previews the bars between them).

Durability: the step's record (:class:`~actors.live.wal_records.StepRecord`) is appended to
the write-ahead journal, fsynced, before the step's last exchange leaves: the journal is the
only disk write on the acknowledgement path. The live book's records go to the store and the
guardian's snapshots to disk in background threads. A restarted guardian (or a ``resume`` on
a new cluster) loads its last snapshot and replays the journal after it through the same
loop, with the recorded venue replies (:class:`~core.trading.replay.ReplayLink`); only the
last record's unanswered exchange is sent again, and the executor answers it idempotently.
If the executor restarts during a step the guardian did not journal yet, the step is run
again from its start (the executor is then at the step's start too).

Reconciliation: every ``reconcile_s`` the executor's account report (taken at a step's
start) is compared with the portfolio; a difference halts trading (fail closed). The kill
switch (command, file or signal) halts the executor at once and the risk engine at the next
step, which the journal records.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actors.adapters.journal import Journal
from actors.live.calls import ActorDirectory
from actors.live.checkpoint import Checkpoint
from actors.live.exchange_channel import ExchangeChannel
from actors.live.executor import SequenceError, StepLostError
from actors.live.executor_link import ExecutorLink
from actors.live.guardian_halt import EXECUTOR_HALTED, HaltControl
from actors.live.guardian_journal import StepJournal, replay_link, tail_reply
from actors.live.guardian_sentry import GuardianSentry, SentrySpec
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.priority import latency_critical
from actors.live.records import live_records
from actors.live.reports import GuardianReport
from actors.live.snapshots import Snapshotter, read_mark, write_mark
from actors.live.step_inputs import StepBars, StepInputs
from actors.live.store_writer import StoreWriter
from actors.live.subscriber import BarSource
from actors.live.wal_records import StepRecord
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.governance.sentry import SentryState
from core.trading.align import FeedSlice
from core.trading.execution import Exchange, VenueLink
from core.trading.messages import (
    Fill,
    MarketBatch,
    OrderRequest,
    OrderUpdate,
    RiskEvent,
    TradingState,
)
from core.trading.planner import OrderPlanner
from core.trading.portfolio import Portfolio
from core.trading.prefetch import PrefetchedLink, first_exchange
from core.trading.replay import RecordingLink
from core.trading.risk import RiskEngine, RiskState
from core.trading.slot import SlotOutput
from core.trading.trader import StepOutcome, Trader, TraderState
from core.trading.warmup import warm_up_trading

REPORTS_KEPT = 256
"""Step reports kept to answer a restarted session that asks again."""


@dataclass(frozen=True, slots=True)
class GuardianSnapshot:
    """The guardian's state after step ``seq_done`` (written off the acknowledgement path).

    Attributes:
        seq_done: Last step done.
        trader: Portfolio, planner and event cursor.
        risk: The risk engine.
        stopped: Feeds stopped on corrupt data, with the reason.
        kill_switch: Source of the kill switch applied ("" = none).
        tail: Reply of the last record's unanswered exchange, if any.
        reports: Recent step reports.
        sentry: The sentry's state (None: no sentry).
    """

    seq_done: int
    trader: TraderState
    risk: RiskState
    stopped: tuple[tuple[str, str], ...]
    kill_switch: str
    tail: Exchange | None
    reports: tuple[GuardianReport, ...]
    sentry: SentryState | None = None


class GuardianService:
    """The guardian's logic; :data:`~actors.live.shells.RiskGuardian` is the Ray actor around it.

    Args:
        state_dir: Folder of the session's state (journal, snapshots).
        limits: Effective risk limits (a regime's risk template may tighten them).
        guardian: Guardian settings (price band, breakers, kill-switch file).
        backtest: Sizing, stops, filters and costs (the planner's configuration).
        symbols: Traded symbols, in column order.
        timeframe_ms: Bar length.
        names: Ray names: ``executor``, ``slot``, ``store``.
        namespace: Ray namespace of the session's actors.
        session_id: The session (for logs).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Where published bars arrive.
        snapshot_s: Least time between two snapshots.
        retry_timeout_s: How long calls to a restarting actor are retried.
        compiled_channel: Exchange with the executor through a Ray compiled graph (plain
            actor calls otherwise, and whenever the channel is down).
        sentry: The active policy's sentry (regime, drift, daily drop; None: none).
    """

    def __init__(self, state_dir: str, limits: RiskLimits, guardian: GuardianConfig,
                 backtest: BacktestConfig, symbols: Sequence[str], timeframe_ms: int,
                 names: dict[str, str], namespace: str, session_id: str = "",
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S, bars: BarSource | None = None,
                 snapshot_s: float = 1.0, retry_timeout_s: float = 60.0,
                 compiled_channel: bool = True, sentry: SentrySpec | None = None) -> None:
        if bars is not None:  # an actor (not an in-process test)
            latency_critical()
        self._state_dir, self._names, self._namespace = state_dir, dict(names), namespace
        self._guardian_config, self._tf = guardian, timeframe_ms
        self._symbols = tuple(symbols)
        self._lock = threading.Lock()
        self._progress = Progress(stuck_after_s)
        self._log = actor_log(session_id, "guardian")
        self._directory = ActorDirectory(namespace, retry_timeout_s)
        self._channel = ExchangeChannel(self._directory, self._names["executor"],
                                        enabled=compiled_channel)
        engine = RiskEngine(limits, guardian, backtest.initial_cash)
        self._trader = Trader(Portfolio(symbols, backtest.initial_cash),
                              OrderPlanner(backtest, symbols, timeframe_ms, limits), engine)
        self._seq_done = -1
        self._stopped: dict[str, str] = {}
        self._kill_applied = ""
        self._tail: Exchange | None = None
        self._reports: deque[GuardianReport] = deque(maxlen=REPORTS_KEPT)
        self._checkpoint = Checkpoint(state_dir, "guardian")
        saved: GuardianSnapshot | None = self._checkpoint.load()
        self._sentry = (GuardianSentry(state_dir, sentry,
                                       saved.sentry if saved is not None else None, limits)
                        if sentry is not None else None)
        if saved is not None:
            self._restore(saved)
        self._bars = (bars.subscriber(joined_late=saved is not None) if bars is not None
                      else None)
        self._inputs = StepInputs(
            self._bars, lambda seq, i0, i1: self._directory.call(
                self._names["slot"], "on_step", seq, i0, i1),
            lambda: self._seq_done)
        self._journal = Journal(state_dir)
        self._halt = HaltControl(state_dir, self._names["executor"], namespace, self._directory,
                                 guardian.kill_switch_file,
                                 lambda: int(self._trader.portfolio.last_ts or 0), self._log,
                                 self._kill_applied)
        self._store = StoreWriter(self._directory, self._names["store"],
                                  on_error=lambda e: self._log.error("store write failed",
                                                                     error=str(e)))
        self._snapshots = Snapshotter(self._checkpoint, snapshot_s,
                                      before_write=self._store.confirm,
                                      on_written=self._snapshot_written,
                                      on_error=lambda e: self._log.error("snapshot failed",
                                                                         error=str(e)))
        self._recovered = False
        warm_up_trading(backtest, symbols, timeframe_ms, limits)
        self._started_at = time.time()
        self._log.info("guardian started", restored_step=self._seq_done)

    # --- liveness and inputs -------------------------------------------------------------

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

    def connect(self) -> None:
        """Reach the executor, the slot and the store once before the first step."""
        self._directory.call_many([(self._names[n], "ping", (), {})
                                   for n in ("executor", "slot", "store")])

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._inputs.counts()

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice (see :class:`~actors.live.subscriber.BarSubscriber`)."""
        return self._inputs.on_bars(part)

    def on_signals(self, seq: int, output: SlotOutput) -> None:
        """The active slot's output for step ``seq``, pushed when it had the bars."""
        self._inputs.on_signals(seq, output)

    def _prefetch(self, seq: int, i0: int, i1: int, taken: StepBars | None
                  ) -> tuple[ExecutorLink, PrefetchedLink, float] | None:
        """The step's first exchange, sent while the slot computes (one-bar steps).

        Returns the link the step goes on with, the prefetched one, and the exchange's time
        in ms (its own latency stage, not the step's ``order``). Any failure leaves it to the
        step (the executor answers a repeated exchange from its cache, and a step it lost is
        run again from its start).
        """
        request = first_exchange(self._trader.cursor, taken[0]) if taken is not None else None
        if request is None:
            return None
        executor = ExecutorLink(self._channel, seq, i0, i1)
        try:
            reply = executor.exchange(request.since, request.sync_to, request.submit,
                                      request.advance_to, request.preview_to)
        except Exception as exc:  # noqa: BLE001 - the step makes it again
            self._log.warning("first exchange ahead of the signals failed", step=seq,
                              error=f"{type(exc).__name__}: {str(exc)[:200]}")
            return None
        elapsed_ms, executor.elapsed_ms = executor.elapsed_ms, 0.0
        return executor, PrefetchedLink(executor, request, reply), elapsed_ms

    # --- a step --------------------------------------------------------------------------

    def process_step(self, seq: int, i0: int, i1: int, due_s: float | None = None
                     ) -> GuardianReport:
        """Judge and execute step ``seq`` (timeline ``[i0, i1)``); idempotent per step.

        Args:
            seq: The step.
            i0: Timeline index of its first bar.
            i1: Timeline index after its last bar.
            due_s: Wall time (``time.time()``) at which its bars close, for a call made
                ahead of it: the wait for the slot's signals counts from then, and so does
                the ``signal`` timing.

        Raises:
            SequenceError: ``seq`` is neither the next step nor a recent one.
        """
        until_due = max(0.0, due_s - time.time()) if due_s is not None else 0.0
        started = time.perf_counter() + until_due
        with self._lock, self._progress.working(f"step {seq}"):
            self._recover()
            if seq <= self._seq_done:
                return self._report(seq)
            if seq != self._seq_done + 1:
                raise SequenceError(f"guardian is at step {self._seq_done}; got step {seq}")
            account = self._halt.account_request()  # before any exchange of the step
            deadline = self._inputs.deadline(until_due)
            taken = self._inputs.bars_first(seq, i0, i1, deadline)
            prefetched = self._prefetch(seq, i0, i1, taken)
            ahead = {"ahead": prefetched[2]} if prefetched is not None else {}
            output = self._inputs.slot_output(seq, i0, i1, deadline)
            signalled = max(time.perf_counter(), started)
            batch, stale = self._inputs.step_bars(seq, i0, i1, taken)
            stopped = tuple(sorted((s, r) for s, r in stale.items() if s not in self._stopped))
            kill = self._halt.file_or_command()
            start = (self._trader.state, self._trader.gate.to_state())
            try:
                outcome, events, journal, executor = self._live_step(
                    seq, i0, i1, batch, output, stopped, kill, start, prefetched)
            except BaseException:
                self._trader.restore(start[0])
                self._trader.gate = RiskEngine.from_state(start[1])
                if self._journal.last_seq == seq:  # journaled: the retry replays it
                    self._recovered = False
                raise
            exchanged = time.perf_counter()
            report = self._after(seq, batch, output, stopped, kill, outcome, events,
                                 journal.tail_reply(),
                                 {"signal": (signalled - started) * 1e3,
                                  "order": executor.elapsed_ms,
                                  "risk": (exchanged - signalled) * 1e3 - executor.elapsed_ms
                                  - journal.journal_ms,
                                  "journal": journal.journal_ms, **ahead})
            self._halt.reconcile(account, start[0])
            return report

    def _live_step(self, seq: int, i0: int, i1: int, batch: MarketBatch, output: SlotOutput,
                   stopped: Sequence[tuple[str, str]], kill: str,
                   start: tuple[TraderState, RiskState],
                   prefetched: tuple[ExecutorLink, PrefetchedLink, float] | None
                   ) -> tuple[StepOutcome, list[RiskEvent], StepJournal, ExecutorLink]:
        """Run the step against the executor; again from its start if the executor lost it."""
        while True:
            first: VenueLink
            if prefetched is not None:
                (executor, first, _), prefetched = prefetched, None  # a rerun starts without it
            else:
                executor = first = ExecutorLink(self._channel, seq, i0, i1)
            link = RecordingLink(first)
            journal = StepJournal(self._journal, self._tail, seq, i0, i1, output, stopped, kill,
                                  link)
            link.before_send = journal
            try:
                outcome, events = self._step(batch, output, stopped, kill, link)
            except StepLostError:
                if journal.tail:
                    raise
                self._log.warning("executor restarted during the step: running it again",
                                  step=seq)
                self._trader.restore(start[0])
                self._trader.gate = RiskEngine.from_state(start[1])
                continue
            journal.finish()
            return outcome, events, journal, executor

    def _step(self, batch: MarketBatch, output: SlotOutput, stopped: Sequence[tuple[str, str]],
              kill: str, link: VenueLink) -> tuple[StepOutcome, list[RiskEvent]]:
        """The step's inputs, the trading loop, the freshness check (live and replay)."""
        engine = self._trader.gate
        first = int(batch.ts[0])
        events = [RiskEvent(first, "feed_error", "corrupt_bar", reason, symbol=symbol)
                  for symbol, reason in stopped]
        for symbol, reason in stopped:
            events.append(engine.mark_stale(symbol, first, reason))
        if kill and kill != self._kill_applied:
            events += engine.engage_kill_switch(first, kill)
        elif not kill and self._kill_applied == EXECUTOR_HALTED:  # an operator resolved it
            events += engine.reset_kill_switch(first, "reconciliation_resolved")
        if self._sentry is not None:  # a swapped-in policy's tighter template
            events += self._sentry.before_step(batch.seq, first, engine)
        self._trader.planner.use_limits(engine.limits)  # a regime's risk template
        outcome = self._trader.run_batch(batch, output.signals, link)
        events += outcome.risk_events
        gone = {*self._stopped, *(s for s, _ in stopped)}
        healthy = {s: int(batch.ts[-1]) for s in batch.symbols if s not in gone}
        events += engine.check_freshness(int(batch.ts[-1]) + batch.timeframe_ms, healthy,
                                         batch.timeframe_ms)
        return outcome, events

    def _after(self, seq: int, batch: MarketBatch, output: SlotOutput,
               stopped: Sequence[tuple[str, str]], kill: str, outcome: StepOutcome,
               events: list[RiskEvent], tail: Exchange | None,
               timings: dict[str, float]) -> GuardianReport:
        """Bookkeeping after a step (live or replayed): report, records, snapshot."""
        self._seq_done = seq
        self._stopped.update(stopped)
        self._kill_applied = kill or ("" if self._kill_applied == EXECUTOR_HALTED
                                      else self._kill_applied)
        self._tail = tail
        book = self._trader.portfolio
        errors = [RiskEvent(int(batch.ts[0]), "strategy_error", "strategy_error", e)
                  for e in output.errors]
        alarms: tuple[dict[str, Any], ...] = ()
        if self._sentry is not None:
            regime, watched, alarms = self._sentry.after_step(seq, batch, outcome,
                                                              self._trader.gate)
            output = dataclasses.replace(output, diary=[*output.diary, *regime])
            events = [*events, *watched]
        self._store.put(seq, [live_records(outcome, batch.ts, output, [*errors, *events])])
        report = GuardianReport(
            seq, int(batch.ts[-1]), float(outcome.portfolio.equity), self._trader.gate.state,
            tuple((p.symbol, p.tag, p.quantity) for p in book.open_positions()),
            tuple(sorted(self._stopped)), len(outcome.fills),
            sum(1 for d in outcome.decisions if not d.approved), outcome.exchanges, timings,
            alarms)
        self._reports.append(report)
        self._snapshots.offer(seq, self._snapshot())
        return report

    def _report(self, seq: int) -> GuardianReport:
        for report in self._reports:
            if report.seq == seq:
                return report
        raise SequenceError(f"guardian is at step {self._seq_done}; the report of step {seq} "
                            "is no longer kept")

    def _snapshot(self) -> GuardianSnapshot:
        return GuardianSnapshot(self._seq_done, self._trader.state,
                                self._trader.gate.to_state(), tuple(sorted(self._stopped.items())),
                                self._kill_applied, self._tail, tuple(self._reports)[-16:],
                                self._sentry.state if self._sentry is not None else None)

    def _snapshot_written(self, seq: int) -> None:
        write_mark(self._state_dir, "guardian", seq)
        self._journal.release(min(seq, read_mark(self._state_dir, "executor")) + 1)

    # --- recovery --------------------------------------------------------------------------

    def _restore(self, saved: GuardianSnapshot) -> None:
        self._trader.restore(saved.trader)
        self._trader.gate = RiskEngine.from_state(saved.risk)
        self._seq_done = saved.seq_done
        self._stopped = dict(saved.stopped)
        self._kill_applied = saved.kill_switch
        self._tail = saved.tail
        self._reports.extend(saved.reports)

    def _recover(self) -> None:
        """Replay the journal after the snapshot (once, before the first step)."""
        if self._recovered:
            return
        records = [record for _, record in self._journal.records(after=self._seq_done)]
        for k, record in enumerate(records):
            assert isinstance(record, StepRecord)
            link = replay_link(records, k, lambda r, op: ExecutorLink(
                self._channel, r.seq, r.i0, r.i1, first_op=op))
            assert self._bars is not None
            # a journaled step is past: its bars are replayed, not awaited as a push
            batch, _ = self._bars.batch(record.seq, record.i0, record.i1, wait_s=0.0)
            output = SlotOutput(list(record.signals), list(record.diary), list(record.errors))
            outcome, events = self._step(batch, output, record.stopped, record.kill_switch,
                                         link)
            if not link.finished():
                raise SequenceError(f"replay of step {record.seq} used {link.consumed} of "
                                    f"{len(record.requests)} recorded exchanges")
            self._after(record.seq, batch, output, record.stopped, record.kill_switch,
                        outcome, events, tail_reply(record, link), {})
        self._recovered = True
        if records:
            self._log.info("journal replayed", steps=len(records), at_step=self._seq_done)

    # --- kill switch -----------------------------------------------------------------------

    def engage_kill_switch(self, source: str) -> dict[str, Any]:
        """Halt all trading now: the executor cancels working orders and refuses new ones.

        Served by a second thread while a step runs; the risk engine latches HALTED at the
        next step (journaled there), and no order is approved from then on.

        Returns:
            ``{"cancelled": n, "elapsed_ms": t}``.
        """
        return self._halt.engage(source)

    def trading_state(self) -> str:
        """ACTIVE, REDUCING or HALTED."""
        if self._halt.source is not None:
            return TradingState.HALTED.value
        return self._trader.gate.state.value

    def denial_counts(self) -> dict[str, int]:
        """Denials per reason code so far."""
        return self._trader.gate.denial_counts

    def seq_done(self) -> int:
        """The last step done (-1 before the first)."""
        return self._seq_done

    # --- end -------------------------------------------------------------------------------

    def finish(self, ts: int) -> int:
        """End of session: cancel working orders at the venue, record it, flush everything.

        Returns:
            Orders cancelled.
        """
        with self._lock:
            self._recover()
            cancelled = self._directory.call(self._names["executor"], "cancel_all", ts,
                                             "session_end")
            page = self._directory.call(self._names["executor"], "events_since",
                                        self._trader.cursor)
            book = self._trader.portfolio
            for event in page.events:
                book.apply(event, book.last_index)
            self._trader.cursor = page.last
            # a real venue may have filled after the last bar (the rest of a partial fill
            # before the cancel arrived): the store records what the venue did
            # (a native stop that traded after the last bar too: the venue's own order)
            late_fills = tuple(e for e in page.events if isinstance(e, Fill))
            late_orders = tuple(e for e in page.events if isinstance(e, OrderRequest))
            updates = [*cancelled, *(e for e in page.events if isinstance(e, OrderUpdate)
                                     and e not in cancelled)]
            if updates or late_fills or late_orders:
                from actors.adapters.session_store import BatchRecords

                self._store.put(self._seq_done + 1, [BatchRecords(
                    book="live", order_requests=late_orders, order_updates=tuple(updates),
                    fills=late_fills)])
            self._store.flush()
            self._snapshots.offer(self._seq_done, self._snapshot())
            self._snapshots.flush()
            self._log.info("session finished", channel=self.channel_stats())
            return len(cancelled)

    def flush(self) -> None:
        """Send every queued record to the store and write the snapshot."""
        self._store.flush()
        self._snapshots.flush()

    def channel_stats(self) -> dict[str, Any]:
        """Exchanges sent on the compiled channel and as plain calls, and channel failures."""
        channel = self._channel
        return {"channel": channel.channel_calls, "plain": channel.plain_calls,
                "failures": list(channel.failures[-10:])}

    def stop(self) -> None:
        """Flush and close the channel to the executor (supervisor stop)."""
        self.flush()
        self._channel.close()
