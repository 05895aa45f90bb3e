"""The stepping loop of a session, run inside the session actor.

Each step ``seq`` asks the feeds to publish the step's bars (they push them to the slot, the
guardian, the executor and the candidates, numbered by the step: the session carries no
bars), then the active slot for its signals, the risk guardian to judge and execute them, the
candidates to trade their own books, and the store to record everything. Every call is
keyed by ``seq`` and idempotent, and retried on the restarted actor when one was killed, so a
retried step never does anything twice.

The loop's position (:class:`SessionPosition`) is checkpointed before each step is sent: the
next step, the carried state (stopped feeds, the live portfolio) and the records
of the previous step that the store has not yet confirmed. A session actor that restarts (or
a ``resume`` after the whole cluster went away) loads it, re-sends the unconfirmed records
(the store ignores a batch it already has) and continues at the next step: every other actor
is then at most one step ahead of it and answers that step again from its own checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.adapters.session_store import BatchRecords
from actors.live.calls import ActorDirectory, Pending, SessionError, submit
from actors.live.latency import StageLatency
from actors.live.plan import SessionPlan
from actors.live.records import candidate_records, live_records
from core.trading.clock import PacingPlan, SimClock
from core.trading.messages import PortfolioSnapshot, RiskEvent


@dataclass
class SessionPosition:
    """Where a session is: what its checkpoint holds.

    Attributes:
        next_seq: The next step to run.
        steps: Steps completed.
        bars: Bars replayed (timeline bars x symbols).
        sim_time_ms: Simulated time at the end of the last step.
        stopped: Symbols whose feed stopped on corrupt data.
        portfolio: The live book after the last step.
        pending: Records of the last step not yet confirmed by the store.
        stop_reason: Why the loop ended ("" while running).
        phase: ``running``, ``finishing`` (files being written) or ``finished``.
        elapsed_s: Wall time spent stepping, summed over the actor's lives.
        retries: Calls retried per actor name.
        equity: Live equity after the last step.
        state: Trading state after the last step.
    """

    next_seq: int = 0
    steps: int = 0
    bars: int = 0
    sim_time_ms: int = 0
    stopped: list[str] = field(default_factory=list)
    portfolio: PortfolioSnapshot | None = None
    pending: list[BatchRecords] = field(default_factory=list)
    stop_reason: str = ""
    phase: str = "running"
    elapsed_s: float = 0.0
    retries: dict[str, int] = field(default_factory=dict)
    equity: float = float("nan")
    state: str = "ACTIVE"


Save = Callable[[SessionPosition], None]


class SessionLoop:
    """Steps one session's actors from a position until the end, a stop, or a failure.

    Args:
        plan: The session plan.
        directory: Named-actor calls with retries.
        position: Where to start (a fresh one, or a restored checkpoint).
        save: Persists the position (called before every step is sent).
        latency: Stage latencies (bounded).
        stop_requested: Returns a reason to stop ("" = go on); checked between steps.
    """

    def __init__(self, plan: SessionPlan, directory: ActorDirectory, position: SessionPosition,
                 save: Save, latency: StageLatency,
                 stop_requested: Callable[[], str] = lambda: "") -> None:
        self.plan, self.directory, self.position = plan, directory, position
        self._save, self._latency, self._stop_requested = save, latency, stop_requested
        config = plan.inputs.config
        self._symbols = tuple(config.data.symbols)
        self._paced = config.session.speed is not None
        self._bounds = plan.step_bounds()
        self._pacing = PacingPlan(config.session.speed)

    @property
    def total_steps(self) -> int:
        """Steps the whole window takes."""
        return len(self._bounds)

    def run(self) -> SessionPosition:
        """Step until the end of the window or a stop; returns the final position.

        Raises:
            SessionError: An actor stayed down past the retry timeout.
        """
        pos, names, call = self.position, self.plan.names, self.directory.call
        timeline, tf = self.plan.timeline, self.plan.inputs.timeframe_ms
        bounds = self._bounds
        storing: Pending | None = None
        if pos.pending:  # a restart: the store may not have the last step's records yet
            storing = self._store(pos.next_seq - 1, pos.pending)
        clock = SimClock(int(timeline[0]))
        resumed_at = pos.next_seq
        anchor = time.perf_counter() - (self._pacing.step_seconds(bounds[resumed_at][0], tf)
                                        if resumed_at < len(bounds) else 0.0)
        published = -1
        loop_start = time.perf_counter()
        elapsed_before = pos.elapsed_s
        for seq in range(resumed_at, len(bounds)):
            pos.stop_reason = pos.stop_reason or self._stop_requested()
            if pos.stop_reason:
                break
            i0, i1 = bounds[seq]
            if self._paced:
                pause = self._pacing.step_seconds(i0, tf) - (time.perf_counter() - anchor)
                if pause > 0:
                    time.sleep(pause)
            step_start = time.perf_counter()
            segment = timeline[i0:i1]
            clock.advance_to(int(segment[-1]))
            # The feeds publish the step's bars to their subscribers; in SIM the next step's
            # go out too, so they are in the inboxes before that step starts.
            ahead = seq if self._paced else min(seq + 1, len(bounds) - 1)
            for step in range(max(published + 1, seq), ahead + 1):
                self._publish(step)
            published = max(published, ahead)
            ingested = time.perf_counter()
            # Candidates do not depend on the live book: they run while the live path works.
            candidates = submit(self.directory, [(n, "on_step", (seq, i0, i1), {})
                                                 for n in names.candidates])
            slot_out = call(names.slot, "on_step", seq, i0, i1, pos.portfolio)
            signalled = time.perf_counter()
            report = call(names.guardian, "process_step", seq, i0, i1, slot_out.signals)
            acked = time.perf_counter()
            reports = candidates.result()
            latencies = {"ingest": (ingested - step_start) * 1e3,
                         "signal": (signalled - ingested) * 1e3,
                         "risk": report.timings_ms.get("risk", 0.0),
                         "order": report.timings_ms.get("order", 0.0),
                         "ack": (acked - step_start) * 1e3}
            self._latency.record(latencies)
            errors = [RiskEvent(int(segment[0]), "strategy_error", "strategy_error", e)
                      for e in slot_out.errors]
            records = [live_records(report, segment, slot_out.signals, slot_out.diary,
                                    errors, latencies)]
            records += [candidate_records(r, segment) for r in reports]
            if storing is not None:  # the previous step's records are written by now
                storing.result()
            portfolio = report.execution.outcome.portfolio
            pos.stopped = list(report.stopped)
            pos.portfolio, pos.pending = portfolio, records
            pos.next_seq, pos.steps, pos.bars = seq + 1, seq + 1, i1 * len(self._symbols)
            pos.sim_time_ms, pos.equity = clock.now_ms(), float(portfolio.equity)
            pos.state = report.state.value
            pos.elapsed_s = elapsed_before + time.perf_counter() - loop_start
            pos.retries = dict(self.directory.retries)
            self._save(pos)
            storing = self._store(seq, records)
            progress = {"seq": seq, "steps": len(bounds), "sim_time_ms": pos.sim_time_ms,
                        "equity": pos.equity, "state": pos.state}
            stop = call(names.control, "report", progress, latencies)
            if stop:
                pos.stop_reason = pos.stop_reason or stop
            if len(pos.stopped) == len(self._symbols):
                pos.stop_reason = pos.stop_reason or "every feed stopped on corrupt data"
        if storing is not None:
            storing.result()
        pos.pending = []
        pos.stop_reason = pos.stop_reason or "end of data"
        pos.elapsed_s = elapsed_before + time.perf_counter() - loop_start
        pos.retries = dict(self.directory.retries)
        return pos

    def _store(self, seq: int, records: list[BatchRecords]) -> Pending:
        return submit(self.directory, [(self.plan.names.store, "append_batch", (seq, r), {})
                                       for r in records])

    def _publish(self, seq: int) -> None:
        """Ask every feed to publish step ``seq`` (not awaited: a lost publish is replayed)."""
        i0, i1 = self._bounds[seq]
        start = int(self.plan.timeline[i0])
        end = int(self.plan.timeline[i1 - 1]) + self.plan.inputs.timeframe_ms
        submit(self.directory, [(n, "publish", (seq, start, end), {})
                                for n in self.plan.names.feeds])


__all__ = ["SessionError", "SessionLoop", "SessionPosition"]
