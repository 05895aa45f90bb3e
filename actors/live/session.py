"""A SIM session: the driver that steps the supervised actors through the replayed bars.

The driver (this process) owns no trading state. Each step ``seq`` it asks the feeds for the
step's bars, the active slot for its signals, the risk guardian to judge and execute them,
the candidates to trade their own books, and the store to record everything — every call
keyed by ``seq`` and idempotent, and retried on the restarted actor when one was killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray

from actors.adapters.session_store import BatchRecords, Restart
from actors.adapters.session_store import SupervisorEvent as StoredSupervisorEvent
from actors.live.calls import ActorDirectory, Pending, SessionError, submit
from actors.live.feed import FeedService
from actors.live.records import candidate_records, live_records
from actors.live.tree import PREFIX, ROOT, SessionNames, TreeInputs, build_tree
from actors.live.window import Window, batch_bounds, resolve_window
from configs.loader import LoadedConfig
from core.data.timeframes import timeframe_to_ms
from core.errors import DataNotFoundError, UsageError
from core.trading.align import align_batch, common_timeline
from core.trading.clock import PacingPlan, SimClock
from core.trading.messages import PortfolioSnapshot, RiskEvent
from core.trading.runners import StrategyChoice
from supervisors import start_supervisor
from supervisors.naming import supervisor_actor_name

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
KILL_SWITCH_SIGNAL = signal.SIGUSR1


@dataclass
class SessionResult:
    """What a finished session left behind.

    Attributes:
        session_id: Its id.
        folder: ``runs/sessions/<id>/``.
        steps: Steps completed.
        bars: Bars replayed (timeline bars x symbols).
        elapsed_s: Wall time of the stepping loop.
        stop_reason: Why it ended ("end of data", "stop command", "SIGINT", ...).
        retries: Calls retried per actor name (actors that were down).
        latencies_ms: Per step, the stage latencies.
    """

    session_id: str
    folder: Path
    steps: int = 0
    bars: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = "end of data"
    retries: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[dict[str, float]] = field(default_factory=list)


def new_session_id(config_id: str) -> str:
    """``<UTC time>-<config id prefix>``: readable and unique enough per machine."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return f"{stamp}-{config_id[:6]}"


def strategy_choice(label: str, name: str | None, params: dict[str, Any],
                    alpha: str | None = None) -> StrategyChoice:
    """A :class:`StrategyChoice` from config values."""
    return StrategyChoice(label=label, strategy=name, params=tuple(sorted(params.items())),
                          alpha=alpha)


@dataclass
class _Plan:
    names: SessionNames
    inputs: TreeInputs
    window: Window
    timeline: np.ndarray
    data_labels: dict[str, str]


def plan_session(loaded: LoadedConfig, session_id: str, folder: Path, namespace: str
                 ) -> _Plan:
    """Read the feeds' timelines, resolve the window and build the tree's inputs.

    Raises:
        UsageError: Missing data, or an empty window.
    """
    config = loaded.config
    data = config.data
    data_dir = str(data.resolve_dir())
    infos = []
    for symbol in data.symbols:
        try:
            feed = FeedService(data_dir, data.venue, symbol, data.timeframe,
                               synthetic_fallback=data.synthetic_fallback,
                               synthetic_bars=data.synthetic_bars, seed=config.app.seed)
        except DataNotFoundError as exc:
            raise UsageError(f"{exc}; set [data] dir/symbols/timeframe") from exc
        infos.append(feed.info())
    full = common_timeline([i.timeline for i in infos], None, None)
    if full.size == 0:
        raise UsageError(f"the symbols {', '.join(data.symbols)} share no bar at "
                         f"{data.venue} {data.timeframe}")
    tf_ms = timeframe_to_ms(data.timeframe)
    window = resolve_window(config.session, int(full[0]), int(full[-1]) + tf_ms)
    timeline = common_timeline([i.timeline for i in infos], window.start_ms, window.until_ms)
    names = SessionNames.build(data.symbols, [c.name for c in config.session.candidates])
    live = strategy_choice("live", config.strategy.name, dict(config.strategy.params))
    candidates = tuple((c.name, strategy_choice(c.name, c.strategy, dict(c.params), c.alpha))
                       for c in config.session.candidates)
    inputs = TreeInputs(session_id=session_id, namespace=namespace, config=config,
                        guardian=config.guardian, data_dir=data_dir,
                        state_dir=str(folder / "state"), store_path=str(folder / "session.sqlite"),
                        timeline=timeline, timeframe_ms=tf_ms, live=live, candidates=candidates)
    labels = {i.symbol: ("SYNTHETIC " if i.synthetic else "") + i.source for i in infos}
    return _Plan(names, inputs, window, timeline, labels)


class SessionRunner:
    """Steps one session. Build with :func:`plan_session`, then :meth:`run`.

    Args:
        loaded: The configuration.
        plan: Names, window and tree inputs.
        folder: The session folder.
        on_step: Called after every step with (seq, result) — chaos tests hook in here.
    """

    def __init__(self, loaded: LoadedConfig, plan: _Plan, folder: Path,
                 on_step: Callable[[int, SessionResult], None] | None = None) -> None:
        self.loaded, self.plan, self.folder = loaded, plan, folder
        config = loaded.config
        self.directory = ActorDirectory(plan.inputs.namespace, config.session.retry_timeout_s)
        self.result = SessionResult(plan.inputs.session_id, folder)
        self._on_step = on_step
        self._stop_reason = ""
        self._kill_requested = threading.Event()
        self.root: Any = None

    # --- lifecycle ----------------------------------------------------------------------

    def start_tree(self) -> None:
        """Start the supervision tree and wait until every actor answers.

        Raises:
            UsageError: Another session's tree is alive in this namespace.
        """
        ns = self.plan.inputs.namespace
        root_name = supervisor_actor_name(PREFIX, ROOT)
        try:
            ray.get_actor(root_name, namespace=ns)
        except ValueError:
            pass
        else:
            raise UsageError(f"a session is already running in Ray namespace {ns!r} "
                             f"({root_name}); stop it with `python -m actors.main stop`")
        spec = build_tree(self.plan.inputs, self.plan.names)
        self.root = start_supervisor(spec, prefix=PREFIX, namespace=ns)
        self.directory.call_many([(n, "ping", (), {}) for n in self.plan.names.all()],
                                 timeout_s=120.0)
        self.directory.retries.clear()  # waiting for the first start is not a retry

    def stop_tree(self) -> None:
        """Stop every actor (children first, gracefully), then the supervisors."""
        if self.root is None:
            return
        with contextlib.suppress(Exception):  # a dying tree must not hide the result
            ray.get(self.root.stop.remote(), timeout=120)
        ray.kill(self.root, no_restart=True)
        self.root = None

    def request_stop(self, reason: str) -> None:
        """Stop after the current step (signal handlers call this)."""
        self._stop_reason = self._stop_reason or reason

    def request_kill_switch(self) -> None:
        """Engage the kill switch at the next opportunity (signal handler)."""
        self._kill_requested.set()

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> SessionResult:
        """Step through the window; returns when done, stopped or failed."""
        config = self.loaded.config
        names, plan = self.plan.names, self.plan
        timeline = plan.timeline
        symbols = tuple(config.data.symbols)
        paced = config.session.speed is not None
        bounds = batch_bounds(timeline, 1 if paced else config.session.batch_bars)
        pacing = PacingPlan(config.session.speed)
        clock = SimClock(int(timeline[0]))
        call = self.directory.call
        call(names.store, "open_session", plan.inputs.session_id,
             config_id=self.loaded.config_id, created_ts=int(timeline[0]),
             info={"symbols": ",".join(symbols), "timeframe": config.data.timeframe})
        last_close: list[float | None] = [None] * len(symbols)
        stopped: dict[str, str] = {}
        portfolio: PortfolioSnapshot | None = None
        started = time.perf_counter()
        tf = plan.inputs.timeframe_ms
        storing: Pending | None = None
        prefetched: Pending | None = None
        for seq, (i0, i1) in enumerate(bounds):
            if self._stop_reason:
                break
            if self._kill_requested.is_set():
                self._kill_requested.clear()
                call(names.guardian, "engage_kill_switch", "signal")
            if paced:
                pause = pacing.step_seconds(i0, tf) - (time.perf_counter() - started)
                if pause > 0:
                    time.sleep(pause)
            step_start = time.perf_counter()
            segment = timeline[i0:i1]
            clock.advance_to(int(segment[-1]))
            fetched = prefetched if prefetched is not None else submit(
                self.directory, self._slice_calls(segment, tf))
            slices = fetched.result()
            prefetched = (submit(self.directory, self._slice_calls(
                timeline[bounds[seq + 1][0]:bounds[seq + 1][1]], tf))
                if seq + 1 < len(bounds) and not paced else None)
            batch, stale = align_batch(seq, i0, segment, slices, config.data.venue, tf,
                                       last_close)
            new_stale = {s: r for s, r in stale.items() if s not in stopped}
            stopped.update(new_stale)
            feed_events = [RiskEvent(int(segment[0]), "feed_error", "corrupt_bar", reason,
                                     symbol=symbol) for symbol, reason in new_stale.items()]
            last_close = [float(batch.close[-1, j]) for j in range(len(symbols))]
            ingested = time.perf_counter()
            # Candidates do not depend on the live book: they run while the live path works.
            candidates = submit(self.directory, [(n, "on_batch", (seq, batch), {})
                                                 for n in names.candidates])
            slot_out = call(names.slot, "on_batch", batch, portfolio)
            signalled = time.perf_counter()
            report = call(names.guardian, "process", seq, batch, slot_out.signals, new_stale)
            acked = time.perf_counter()
            reports = candidates.result()
            latencies = {"ingest": (ingested - step_start) * 1e3,
                         "signal": (signalled - ingested) * 1e3,
                         "risk": report.timings_ms.get("risk", 0.0),
                         "order": report.timings_ms.get("order", 0.0),
                         "ack": (acked - step_start) * 1e3}
            errors = [RiskEvent(int(segment[0]), "strategy_error", "strategy_error", e)
                      for e in slot_out.errors]
            records = [live_records(report, segment, slot_out.signals, slot_out.diary,
                                    (*feed_events, *errors), latencies)]
            records += [candidate_records(r, segment) for r in reports]
            if storing is not None:  # the previous step's records are written by now
                storing.result()
            storing = submit(self.directory, [(names.store, "append_batch", (seq, r), {})
                                              for r in records])
            portfolio = report.execution.outcome.portfolio
            self.result.steps = seq + 1
            self.result.bars = i1 * len(symbols)
            self.result.latencies_ms.append(latencies)
            progress = {"seq": seq, "steps": len(bounds), "sim_time_ms": clock.now_ms(),
                        "equity": float(portfolio.equity), "state": report.state.value}
            stop = call(names.control, "report", progress, latencies)
            if stop:
                self.request_stop(stop)
            if self._on_step is not None:
                self._on_step(seq, self.result)
            if len(stopped) == len(symbols):
                self.request_stop("every feed stopped on corrupt data")
        if storing is not None:
            storing.result()
        self.result.elapsed_s = time.perf_counter() - started
        self.result.stop_reason = self._stop_reason or "end of data"
        self.result.retries = dict(self.directory.retries)
        return self.result

    def _slice_calls(self, segment: np.ndarray, timeframe_ms: int) -> list[Any]:
        return [(n, "slice", (int(segment[0]), int(segment[-1]) + timeframe_ms), {})
                for n in self.plan.names.feeds]

    # --- the end ------------------------------------------------------------------------

    def finish(self) -> None:
        """No new orders, cancel working ones, record supervision, export the session files."""
        names, call = self.plan.names, self.directory.call
        last_ts = int(self.plan.timeline[min(self.result.bars // max(
            len(self.plan.names.feeds), 1), len(self.plan.timeline)) - 1]) \
            if self.result.bars else int(self.plan.timeline[0])
        cancelled = call(names.executor, "halt", last_ts, "session_end")
        if cancelled:
            call(names.store, "append_batch", self.result.steps,
                 BatchRecords(book="live", order_updates=tuple(cancelled)))
        events = ray.get(self.root.events.remote(0)) if self.root is not None else []
        stored = [StoredSupervisorEvent(int(e.ts * 1000), e.supervisor, e.child,
                                        str(e.kind), e.detail) for e in events]
        restarts = _restarts(events)
        call(names.store, "append_supervision", stored, restarts)
        call(names.store, "export", str(self.folder), "live")
        call(names.store, "set_status", self.plan.inputs.session_id, "finished",
             ts=last_ts)


def _restarts(events: list[Any]) -> list[Restart]:
    counts: dict[str, int] = {}
    found = []
    for event in events:
        if str(event.kind) == "restarted" and event.child:
            actor = f"{event.supervisor}/{event.child}"
            counts[actor] = counts.get(actor, 0) + 1
            found.append(Restart(actor, counts[actor], int(event.ts * 1000), event.detail))
    return found


def install_signal_handlers(runner: SessionRunner) -> Callable[[], None]:
    """SIGINT/SIGTERM stop the session gracefully; SIGUSR1 engages the kill switch.

    Returns:
        A function restoring the previous handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, KILL_SWITCH_SIGNAL)}
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda number, _frame: runner.request_stop(
            signal.Signals(number).name))
    signal.signal(KILL_SWITCH_SIGNAL, lambda _n, _f: runner.request_kill_switch())

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return restore


__all__ = ["SessionError", "SessionResult", "SessionRunner", "install_signal_handlers",
           "new_session_id", "plan_session"]
