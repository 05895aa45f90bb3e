"""The stepping loop of a session, run inside the session actor.

The session owns the clock. For each step ``seq`` it asks every feed to publish the step's
bars (the feeds push them to the slot, the guardian and the executor at once, and to the
candidates conflated; in SIM the next step goes out too, so it is there before it is
needed) and asks the risk guardian for the step. A paced step is armed :data:`ARM_AHEAD_S`
before its bars close, with their close time: the feeds push the bars at the close and the
guardian waits for the slot's signals from then, so the step starts at the bar's close, not
when this loop wakes up. Everything else happens without the
session: the slot pushes its signals to the guardian when it has the bars, the guardian
trades through the executor and journals the step, the candidates trade their own books as
the bars arrive, and every actor sends its records to the store itself. The session carries
no bars and no records: it keeps the time, the progress and the latencies.

Its position (:class:`SessionPosition`) is snapshotted off the acknowledgement path. A
session actor that restarts (or a ``resume`` after the whole cluster went away) continues
from it: the guardian answers the steps it already did from its recent reports.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.adapters.session_store import BatchRecords, LatencySample
from actors.live.calls import ActorDirectory, Pending, SessionError, submit
from actors.live.latency import StageLatency
from actors.live.plan import SessionPlan
from actors.live.store_writer import StoreWriter
from core.errors import FeedNeverStartedError
from core.trading.clock import PacingPlan, SimClock
from core.trading.messages import PortfolioSnapshot

ARM_AHEAD_S = 0.025
"""A paced step is sent to the feeds and the guardian this long before its bars close."""
REPORT_EVERY_S = 0.25
"""How often the loop reports progress to the control actor (and reads its stop flag)."""


@dataclass
class SessionPosition:
    """Where a session is: what its snapshot holds.

    Attributes:
        next_seq: The next step to run.
        steps: Steps completed.
        bars: Bars replayed (timeline bars x symbols).
        sim_time_ms: Simulated time at the end of the last step.
        stopped: Symbols whose feed stopped on corrupt data.
        portfolio: The live book after the last step (summary: cash unknown, equity,
            positions).
        stop_reason: Why the loop ended ("" while running).
        phase: ``running``, ``finishing`` (files being written) or ``finished``.
        elapsed_s: Wall time spent stepping, summed over the actor's lives.
        retries: Calls retried per actor name.
        equity: Live equity after the last step.
        state: Trading state after the last step.
        positions: ``(symbol, tag, quantity)`` after the last step.
    """

    next_seq: int = 0
    steps: int = 0
    bars: int = 0
    sim_time_ms: int = 0
    stopped: list[str] = field(default_factory=list)
    portfolio: PortfolioSnapshot | None = None
    stop_reason: str = ""
    phase: str = "running"
    elapsed_s: float = 0.0
    retries: dict[str, int] = field(default_factory=dict)
    equity: float = float("nan")
    state: str = "ACTIVE"
    positions: list[tuple[str, str, float]] = field(default_factory=list)


Save = Callable[[SessionPosition], None]


class SessionLoop:
    """Steps one session from a position until the end, a stop, or a failure.

    Args:
        plan: The session plan.
        directory: Named-actor calls with retries.
        position: Where to start (a fresh one, or a restored snapshot).
        save: Offers the position to the snapshot writer (after every step).
        latency: Stage latencies (bounded).
        stop_requested: Returns a reason to stop ("" = go on); checked between steps.
        on_ready: Told how long the start took (ping, connect, catch-up) before the first step.
        on_roster_change: Told when a candidate was added or removed (it reconciles the
            candidates subtree).
    """

    def __init__(self, plan: SessionPlan, directory: ActorDirectory, position: SessionPosition,
                 save: Save, latency: StageLatency,
                 stop_requested: Callable[[], str] = lambda: "",
                 on_ready: Callable[[dict[str, float]], None] | None = None,
                 on_roster_change: Callable[[], None] = lambda: None) -> None:
        self.plan, self.directory, self.position = plan, directory, position
        self._on_ready = on_ready
        self._on_roster_change = on_roster_change
        self._save, self._latency, self._stop_requested = save, latency, stop_requested
        config = plan.inputs.config
        self._symbols = tuple(config.data.symbols)
        self._paced = config.session.speed is not None
        self._bounds = plan.step_bounds()
        self._publishing: list[Pending] = []
        self._pacing = PacingPlan(config.session.speed)
        self._latencies = StoreWriter(directory, plan.names.store, interval_s=0.5,
                                      max_batches=256)

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
        # The tree's actors start in parallel; the clock starts once they all answer and
        # have reached the peers they push to (first contacts between workers are slow).
        begun = time.perf_counter()
        # A cold start waits for the whole tree; a restarted session only for its own peers
        # (the others kept running, or are being restarted by their supervisors).
        peers = (names.all() if pos.next_seq == 0 else
                 [names.store, names.control, *names.feeds, names.guardian])
        self.directory.call_many([(name, "ping", (), {}) for name in peers])
        pinged = time.perf_counter()
        self.directory.call_many([(name, "connect", (), {})
                                  for name in (*names.feeds, names.guardian, names.slot)])
        connected = time.perf_counter()
        clock = SimClock(int(timeline[0]))
        done = self._guardian_done()
        resumed_at = max(pos.next_seq, done)
        if self._on_ready is not None:
            self._on_ready({"ping_s": pinged - begun, "connect_s": connected - pinged,
                            "catch_up_s": time.perf_counter() - connected,
                            "first_step": resumed_at})
        anchor = (self._venue_anchor() if self.plan.inputs.live_feed is not None
                  else time.perf_counter() - (self._pacing.step_seconds(bounds[resumed_at][0], tf)
                                              if resumed_at < len(bounds) else 0.0))
        published = -1
        loop_start = time.perf_counter()
        elapsed_before = pos.elapsed_s
        reported = 0.0
        for seq in range(resumed_at, len(bounds)):
            pos.stop_reason = pos.stop_reason or self._stop_requested()
            if pos.stop_reason:
                break
            i0, i1 = bounds[seq]
            due_s = None
            if self._paced:
                # The step is armed just before its bars close: the feeds push them at the
                # close themselves and the guardian already waits for the slot's signals, so
                # neither this loop's wake-up nor its calls are on the bar-to-order path.
                due = anchor + self._pacing.step_seconds(i0, tf)
                pause = due - ARM_AHEAD_S - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                ahead = due - time.perf_counter()
                due_s = time.time() + ahead if ahead > 0 else None
                if seq > published:
                    self._publish(seq, due_s)
                    published = seq
                step_start = due if ahead > 0 else time.perf_counter()
            else:
                step_start = time.perf_counter()
                ahead = min(seq + 1, len(bounds) - 1)
                for step in range(max(published + 1, seq), ahead + 1):
                    self._publish(step)
                published = max(published, ahead)
            clock.advance_to(int(timeline[i1 - 1]))
            try:
                report = call(names.guardian, "process_step", seq, i0, i1, due_s)
            except FeedNeverStartedError as exc:  # no price ever: stop, never crash-loop
                cause = getattr(exc, "cause", None) or exc
                pos.stop_reason = str(cause).splitlines()[0]
                break
            acked = time.perf_counter()
            if report.alarms:  # decided here, at a step the loop's timing cannot move
                from actors.live.sentry_actions import on_alarms

                on_alarms(self.plan, report, published)
            timings = report.timings_ms
            latencies = {"signal": timings.get("signal", 0.0),
                         "risk": timings.get("risk", 0.0),
                         "order": timings.get("order", 0.0),
                         "journal": timings.get("journal", 0.0),
                         **({"ahead": timings["ahead"]} if "ahead" in timings else {}),
                         "ack": (acked - step_start) * 1e3}
            if seq > done:  # a step done before (answered from its report) has no latency
                self._latency.record(latencies)
                self._latencies.put(seq, [BatchRecords(book="live", latencies=tuple(
                    LatencySample(stage, ms) for stage, ms in sorted(latencies.items())))])
            pos.stopped = list(report.stopped)
            pos.next_seq, pos.steps, pos.bars = seq + 1, seq + 1, i1 * len(self._symbols)
            pos.sim_time_ms, pos.equity = clock.now_ms(), report.equity
            pos.state = report.state.value
            pos.positions = list(report.positions)
            pos.elapsed_s = elapsed_before + time.perf_counter() - loop_start
            pos.retries = dict(self.directory.retries)
            self._save(dataclasses.replace(pos))
            if acked - reported >= REPORT_EVERY_S or seq == len(bounds) - 1:
                reported = acked
                progress = {"seq": seq, "steps": len(bounds), "sim_time_ms": pos.sim_time_ms,
                            "equity": pos.equity, "state": pos.state}
                stop, changes_waiting = call(names.control, "report", progress, latencies)
                if stop:
                    pos.stop_reason = pos.stop_reason or stop
                if changes_waiting:
                    self._decide_changes(published)
            if len(pos.stopped) == len(self._symbols):
                pos.stop_reason = pos.stop_reason or "every feed stopped on corrupt data"
        self._latencies.flush()
        pos.stop_reason = pos.stop_reason or "end of data"
        pos.elapsed_s = elapsed_before + time.perf_counter() - loop_start
        pos.retries = dict(self.directory.retries)
        return pos

    def _decide_changes(self, published: int) -> None:
        """Decide every waiting change request.

        A policy swap (:mod:`actors.live.swapper`), a candidate added or removed
        (:mod:`actors.live.roster_changes`).
        """
        from actors.live.roster_changes import decide_candidate_change
        from actors.live.swapper import decide_swap

        control = self.plan.names.control
        for request in self.directory.call(control, "change_requests"):
            if request.get("kind", "swap") == "swap":
                outcome = decide_swap(self.plan, request, published)
            else:
                outcome = decide_candidate_change(self.plan, request, published)
                if outcome["status"] == "applied":
                    self._on_roster_change()
            self.directory.call(control, "resolve_change", request["id"], outcome)

    def _venue_anchor(self) -> float:
        """``perf_counter`` time at which the first bar of a live session closes on the venue.

        Step ``i`` is then due ``i`` bars later on the venue's clock, whatever the session's
        restarts: a step whose bar closed already is published at once.
        """
        from actors.live.venue_bars import VenueBars  # ccxt: live sessions only

        inputs = self.plan.inputs
        assert inputs.live_feed is not None and self._pacing.speed
        bars = VenueBars(inputs.live_feed, self._symbols[0], inputs.timeframe_ms)
        asked = time.perf_counter()
        now_ms = bars.venue_now_ms()
        heard = time.perf_counter()
        first_close_ms = int(self.plan.timeline[0]) + inputs.timeframe_ms
        return (asked + heard) / 2 + (first_close_ms - now_ms) / 1000 / self._pacing.speed

    def _guardian_done(self) -> int:
        """The guardian's last step: a restarted session goes on from it.

        The session's snapshot is written off the acknowledgement path, so it may be some
        steps behind the guardian. Those steps are done: the session goes on from the
        guardian's last step (which the guardian answers again from its report, before its
        bars' close in a paced session: no latency is recorded for it), not step by step
        through the others (a paced session would wait for each). What it skips is its own
        bookkeeping of the steps between (latency samples), never a trade.
        """
        return int(self.directory.call(self.plan.names.guardian, "seq_done"))

    def _publish(self, seq: int, due_s: float | None = None) -> None:
        """Ask every feed to publish step ``seq`` (not awaited: a lost publish is replayed).

        ``due_s`` (wall time) is when the feeds push it (None: at once).

        The answers of earlier publishes are looked at first: one that failed because its
        feed died makes the next publish look the restarted feed up.
        """
        self._publishing = [p for p in self._publishing if not p.settle()]
        i0, i1 = self._bounds[seq]
        self._publishing.append(submit(self.directory, [(n, "publish", (seq, i0, i1, due_s), {})
                                                        for n in self.plan.names.feeds]))


__all__ = ["SessionError", "SessionLoop", "SessionPosition"]
