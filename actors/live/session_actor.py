"""SessionActor: the session's stepping loop as a supervised actor (a child of the root).

The actor owns the session's position (step, simulated clock, progress) and snapshots it
off the acknowledgement path. Its constructor is the only start path: a cold start finds no
snapshot and begins at step 0; a restart by its supervisor, or a ``resume`` on a new
cluster, finds the snapshot and continues from it (the guardian answers the steps it already
did). The loop runs in a thread of its own, so ``status``, ``request_stop`` and heartbeats
are served while it steps. At the end it stops the live book (working orders cancelled),
brings the candidates to the last step, exports the session files and ``session.md``,
writes ``state/result.json`` and answers ``DONE``: it is the root's significant child, so
the whole tree then shuts down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import ray

from actors.adapters.session_store import Restart, SessionStore
from actors.adapters.session_store import SupervisorEvent as StoredSupervisorEvent
from actors.live.calls import ActorDirectory
from actors.live.checkpoint import Checkpoint
from actors.live.latency import StageLatency
from actors.live.liveness import StuckError
from actors.live.logs import actor_log
from actors.live.names import PREFIX, ROOT
from actors.live.plan import SessionPlan
from actors.live.priority import latency_critical
from actors.live.session import SessionLoop, SessionPosition
from actors.live.snapshots import Snapshotter
from core.trading.choice import StrategyChoice
from supervisors import DONE
from supervisors.naming import supervisor_actor_name

RESULT_FILE = "result.json"
"""Written to ``<folder>/state/`` when the session has finished (or failed for good)."""


def result_path(folder: str | Path) -> Path:
    """Where a session's final result lands."""
    return Path(folder) / "state" / RESULT_FILE


class SessionService:
    """The session actor's logic (the Ray actor: :data:`~actors.live.shells.SessionActor`).

    Args:
        plan: The session plan (names, inputs, timeline, folder).
    """

    def __init__(self, plan: SessionPlan) -> None:
        self._plan = plan
        latency_critical()
        inputs = plan.inputs
        config = inputs.config
        self._checkpoint = Checkpoint(inputs.state_dir, "session")
        self._snapshots = Snapshotter(self._checkpoint, 1.0)
        saved = self._checkpoint.load()
        self._restored = saved is not None
        self._position: SessionPosition = saved if saved is not None else SessionPosition(
            sim_time_ms=int(plan.timeline[0]))
        self._directory = ActorDirectory(inputs.namespace, config.session.retry_timeout_s,
                                         call_timeout_s=config.session.call_timeout_s)
        self._latency = StageLatency()
        self._stop_reason = ""
        self._error: str | None = None
        self._lock = threading.Lock()
        self._started_at = time.time()
        session = config.session
        self._progress_limit_s = (session.call_timeout_s + session.retry_timeout_s
                                  + session.stuck_after_s)
        self._progressed = time.monotonic()
        self._log = actor_log(inputs.session_id, "session")
        self._log.info("session actor started", restored=self._restored,
                       next_step=self._position.next_seq, phase=self._position.phase)
        self._total_steps = len(plan.step_bounds())
        self._roster: Any = None
        self._thread = threading.Thread(target=self._main, name="session-loop", daemon=True)
        self._thread.start()

    # --- served while the loop runs -------------------------------------------------------

    def ping(self) -> str:
        """Heartbeat: ``DONE`` once the session has finished.

        Raises:
            RuntimeError: The loop failed; the supervisor restarts the actor, which resumes
                from its checkpoint.
        """
        if self._error is not None:
            raise RuntimeError(f"session loop failed: {self._error}")
        if self._position.phase == "finished":
            return DONE
        quiet = time.monotonic() - self._progressed
        if self._position.phase == "running" and quiet > self._progress_limit_s:
            raise StuckError(f"no step completed for {quiet:.0f} s (limit "
                             f"{self._progress_limit_s:g} s)")
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def started_at(self) -> float:
        """Wall time this instance started."""
        return self._started_at

    def plan(self) -> SessionPlan:
        """The session plan (for ``attach`` from another process)."""
        return self._plan

    def request_stop(self, reason: str = "stop command") -> None:
        """Stop gracefully after the current step."""
        with self._lock:
            self._stop_reason = self._stop_reason or reason

    def status(self) -> dict[str, Any]:
        """Progress for followers (``python -m actors.main``, ``attach``, ``status``)."""
        pos = self._position
        portfolio = pos.portfolio
        positions = ([(p.symbol, p.tag, float(p.quantity)) for p in portfolio.positions]
                     if portfolio is not None else list(pos.positions))
        elapsed = pos.elapsed_s
        return {"session_id": self._plan.inputs.session_id, "phase": pos.phase,
                "steps": pos.steps, "total_steps": self._total_steps, "bars": pos.bars,
                "timeline_bars": len(self._plan.timeline),
                "symbols": len(self._plan.inputs.config.data.symbols),
                "sim_time_ms": pos.sim_time_ms, "equity": pos.equity, "state": pos.state,
                "positions": positions, "stop_reason": pos.stop_reason,
                "elapsed_s": elapsed,
                "bars_per_s": pos.bars / elapsed if elapsed > 0 else 0.0,
                "latency_ms": self._latency.summary(max_age_s=1.0), "restored": self._restored,
                "error": self._error, "folder": self._plan.folder, "pid": os.getpid()}

    def stop(self) -> None:
        """Graceful stop by the supervisor: finish the current step, keep the checkpoint."""
        self.request_stop("supervisor stop")

    # --- the loop thread -----------------------------------------------------------------

    def _main(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported through ping, then restarted
            self._error = f"{type(exc).__name__}: {exc}"
            self._log.error("session loop failed", error=self._error,
                            trace=traceback.format_exc(limit=8))

    def _run(self) -> None:
        plan, pos, call = self._plan, self._position, self._directory.call
        names, inputs = plan.names, plan.inputs
        if pos.phase != "finished":
            from actors.live.roster_changes import RosterKeeper

            self._roster = RosterKeeper(plan, self._directory,
                                        lambda: self._position.next_seq - 1)
        if pos.phase == "running":
            if not self._restored:
                config = inputs.config
                call(names.store, "open_session", inputs.session_id, config_id=plan.config_id,
                     created_ts=int(plan.timeline[0]),
                     info={"symbols": ",".join(config.data.symbols),
                           "timeframe": config.data.timeframe})
            loop = SessionLoop(plan, self._directory, pos, self._save, self._latency,
                               self._stop_requested,
                               on_ready=lambda t: self._log.info("session loop ready", **t),
                               on_roster_change=self._roster.poke)
            loop.run()
            pos.phase = "finishing"
            self._snapshots.offer(pos.steps, dataclasses.replace(pos))
            self._snapshots.flush()
        if pos.phase == "finishing":
            self._finish(pos)
            pos.phase = "finished"
            self._snapshots.offer(pos.steps, dataclasses.replace(pos))
            self._snapshots.flush()
            self._write_result(pos)
            self._log.info("session finished", steps=pos.steps, reason=pos.stop_reason)

    def _save(self, pos: SessionPosition) -> None:
        self._snapshots.offer(pos.steps, pos)
        self._progressed = time.monotonic()

    def _stop_requested(self) -> str:
        with self._lock:
            return self._stop_reason

    def _finish(self, pos: SessionPosition) -> None:
        """No new orders, cancel working ones, record supervision, export the files."""
        plan, call = self._plan, self._directory.call
        names, inputs = plan.names, plan.inputs
        last_ts = (int(plan.timeline[min(pos.bars // max(len(names.feeds), 1),
                                         len(plan.timeline)) - 1])
                   if pos.bars else int(plan.timeline[0]))
        call(names.guardian, "finish", last_ts)
        self._roster.close()  # the candidates added and removed while it ran are settled
        for name in self._roster.trading():  # a failed candidate never blocks the end
            try:
                call(name, "finish", pos.steps - 1)
            except Exception as exc:  # noqa: BLE001 - recorded, its book stays as it got
                cause = getattr(exc, "cause", None) or exc
                self._log.error("a candidate could not finish: its book stops where it got",
                                candidate=name, error=str(cause).splitlines()[0])
        root = ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=inputs.namespace)
        events = ray.get(root.events.remote(0), timeout=60)
        stored = [StoredSupervisorEvent(int(e.ts * 1000), e.supervisor, e.child,
                                        str(e.kind), e.detail) for e in events]
        call(names.store, "append_supervision", stored, _restarts(events))
        call(names.store, "export", plan.folder, "live")
        call(names.store, "set_status", inputs.session_id, "finished", ts=last_ts)
        self._summarise(pos)

    def _summarise(self, pos: SessionPosition) -> None:
        plan, call = self._plan, self._directory.call
        config = plan.inputs.config
        retries = pos.retries
        policies = self._policies()
        info = {"config id": plan.config_id, "mode": config.app.mode,
                "strategy": _describe(plan.inputs.live),
                "policy": policies["live"],
                "stopped because": pos.stop_reason, "steps": str(pos.steps),
                "bars replayed": f"{pos.bars:,}",
                "throughput": f"{pos.bars / pos.elapsed_s:,.0f} bars/s"
                if pos.elapsed_s > 0 else "n/a",
                "calls retried": ", ".join(f"{k.rsplit('/', 1)[-1]} {v}" for k, v in
                                           sorted(retries.items())) or "none"}
        call(plan.names.store, "write_summary", plan.folder, plan.inputs.session_id, "live",
             initial_equity=config.backtest.initial_cash, info=info, data=plan.data_labels)
        call(plan.names.store, "flush")
        from actors.live.session_files import build_summary  # the end only: heavy imports

        folder = Path(plan.folder)
        store = SessionStore(folder / "session.sqlite")
        try:
            lines = ["", "## Candidates (paper, same feed and fill model)", "",
                     "| candidate | policy | PnL | PnL % | max drawdown % | fills | denials |",
                     "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
            for book in sorted(b for b in store.books() if b.startswith("candidate:")):
                s = build_summary(store, plan.inputs.session_id, book,
                                  initial_equity=config.backtest.initial_cash)
                pct = "n/a" if math.isnan(s.pnl_pct) else f"{s.pnl_pct:.2f}"
                dd = "n/a" if math.isnan(s.max_drawdown_pct) else f"{s.max_drawdown_pct:.2f}"
                name = book.split(":", 1)[1]
                lines.append(f"| {name} | {policies.get(name, 'n/a')} | {s.pnl:,.2f} | {pct} | "
                             f"{dd} | {s.fills} | {sum(n for _, n in s.denials)} |")
            lines += self._parity(store)
            lines += self._swaps()
            lines += self._sentry()
        finally:
            store.close()
        path = folder / "session.md"
        path.write_text(path.read_text() + "\n".join(lines) + "\n")

    def _policies(self) -> dict[str, str]:
        """The policy hash of the active strategy (``live``) and of each candidate.

        The same identity the registry and the ledger name a policy by (see
        :mod:`actors.live.policies`).
        """
        from actors.live.policies import session_policies

        try:
            return {label: record["policy"]
                    for label, record in session_policies(self._plan.inputs).items()}
        except Exception as exc:  # noqa: BLE001 - a summary never fails on it
            return {"live": f"n/a ({type(exc).__name__})"}

    def _swaps(self) -> list[str]:
        """The policy swaps of the session (promotions and rollbacks while it ran)."""
        from actors.live.policy_swaps import load_schedule

        inputs = self._plan.inputs
        schedule = load_schedule(inputs.state_dir, inputs.live)
        if not schedule.swaps:
            return []
        bounds = self._plan.step_bounds()
        lines = ["", "## Policy swaps (the active slot)", "",
                 "| from step | first bar (UTC) | policy | positions | reason |",
                 "| ---: | --- | --- | --- | --- |"]
        for swap in schedule.swaps:
            ts = int(self._plan.timeline[bounds[swap.from_seq][0]])
            when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
            lines.append(f"| {swap.from_seq} | {when} | {swap.policy.hash} | {swap.positions} "
                         f"| {swap.reason} |")
        return lines

    def _sentry(self) -> list[str]:
        """The drift sentry: its model (or why there is none) and every alarm's packet."""
        inputs = self._plan.inputs
        lines = ["", "## Drift sentry", ""]
        if inputs.drift_model:
            model = json.loads(inputs.drift_model)
            lines.append(f"- policy {inputs.live_policy}: expected {model['mean']:.3g} +- "
                         f"{model['std']:.3g} per bar; Page-Hinkley > "
                         f"{model['ph_threshold']:.3g}, CUSUM > {model['cusum_threshold']:.3g}"
                         f", calibrated to one false alarm per {model['false_alarm_bars']} bars"
                         f"; a {model['shift_sd']:g} sd decay is detected in "
                         f"{model['detection_delay_bars']} bars (median)")
        else:
            lines.append(f"- {inputs.drift_note or 'off'}")
        lines.append(f"- daily drop alarm at {inputs.config.governance.drift.daily_drop_pct:g} "
                     f"%; on alarm: {', '.join(inputs.config.governance.drift.on_alarm)}")
        packets = sorted((Path(self._plan.folder) / "drift").glob("*.json"))
        if packets:
            lines += ["", "| step | bar (UTC) | alarm | statistic | threshold | action |",
                      "| ---: | --- | --- | ---: | ---: | --- |"]
        for path in packets:
            alarm = json.loads(path.read_text())
            when = dt.datetime.fromtimestamp(alarm["ts"] / 1000, dt.UTC).strftime(
                "%Y-%m-%d %H:%M")
            statistic = alarm.get("statistic", alarm.get("drop_pct"))
            rollback = alarm.get("rollback") or {}
            action = alarm["action"]
            if rollback.get("status") == "applied":
                action = (f"rolled back to {rollback['policy']} from step "
                          f"{rollback['from_seq']} (latency {rollback['latency_bars']} bars)")
            elif rollback:
                action = f"no rollback: {rollback.get('reason', rollback.get('status'))}"
            halved = alarm.get("halve_size") or {}
            if halved.get("status") == "applied":
                action += (f"; size x{halved['size_scale']:g} from step {halved['from_seq']}")
            elif rollback.get("size_scale", 1.0) != 1.0:
                action += f", size x{rollback['size_scale']:g}"
            if rollback.get("demoted", {}).get("status") == "applied":
                action += f"; {alarm['policy']} a candidate from step " \
                          f"{rollback['demoted']['from_seq']}"
            if "freeze_candidates" in alarm:
                action += f"; candidates {alarm['freeze_candidates']}"
            lines.append(f"| {alarm['seq']} | {when} | {alarm['kind']} "
                         f"{alarm.get('detector', '')} | {statistic:.3f} | "
                         f"{alarm['threshold']:.3f} | {action} |")
        return lines

    def _parity(self, store: SessionStore) -> list[str]:
        """The drift from the SIM reference, when the session ran one."""
        from core.trading.parity import REFERENCE, parity_report, render_parity

        reference = f"candidate:{REFERENCE}"
        if reference not in store.books():
            return []
        with store.snapshot():
            ends = [store.equity(book)[1] for book in ("live", reference)]
            fills = [store.fills(book) for book in ("live", reference)]
        if any(len(e) == 0 for e in ends):
            return []
        bound = self._plan.inputs.config.session.parity_bound_bps
        return render_parity(parity_report(fills[0], fills[1], float(ends[0][-1]),
                                           float(ends[1][-1]), bound))

    def _write_result(self, pos: SessionPosition) -> None:
        body = {"session_id": self._plan.inputs.session_id, "folder": self._plan.folder,
                "steps": pos.steps, "bars": pos.bars, "elapsed_s": pos.elapsed_s,
                "stop_reason": pos.stop_reason, "retries": pos.retries,
                "latency_ms": self._latency.summary(), "equity": pos.equity,
                "state": pos.state}
        path = result_path(self._plan.folder)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body, indent=1, sort_keys=True, default=str) + "\n")
        temporary.replace(path)


def _restarts(events: list[Any]) -> list[Restart]:
    counts: dict[str, int] = {}
    found = []
    for event in events:
        if str(event.kind) == "restarted" and event.child:
            actor = f"{event.supervisor}/{event.child}"
            counts[actor] = counts.get(actor, 0) + 1
            found.append(Restart(actor, counts[actor], int(event.ts * 1000), event.detail))
    return found


def _describe(choice: StrategyChoice) -> str:
    """What a slot runs, for the summary."""
    if choice.alpha is not None:
        return f"alpha {choice.alpha}"
    return f"{choice.strategy} {dict(choice.params)}"
