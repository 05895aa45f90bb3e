"""The Supervisor Ray actor: starts children, watches them, restarts them, escalates.

Why an async actor: one event loop runs the reconcile loop and serves every call (``tree``,
``events``, ``wait_child``, ``stop``, pings from a parent) without threads or locks around
the state. Pings and graceful stops are awaited, so a hung child never blocks the loop or the
API; a single ``asyncio.Lock`` keeps a reconcile pass and ``stop()`` from interleaving.

The reconcile loop never dies: every exception raised in a pass is caught, recorded as an
``error`` event, and the next pass runs ``loop_interval_s`` later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import ray

from supervisors.actor_ops import (
    actor_id,
    await_ref,
    create_named,
    kill,
    lookup,
    stop_gracefully,
    wait_name_free,
)
from supervisors.child import ChildRecord, ChildStatus, should_restart
from supervisors.dynamic import DynamicChildren
from supervisors.errors import (
    ChildUnavailableError,
    SupervisionError,
    SupervisorEscalatedError,
    SupervisorSpecError,
)
from supervisors.events import EventKind, EventLog, EventSink, SupervisorEvent, deliver
from supervisors.health import DONE, Heartbeat, Outcome, Probe, ping_once
from supervisors.intensity import RestartIntensity
from supervisors.naming import check_prefix, child_actor_name, supervisor_actor_name
from supervisors.spec import ChildSpec, RestartType, Strategy, SupervisorSpec
from supervisors.strategy import restart_scope
from supervisors.tree import TreeNode, child_node

_log = logging.getLogger(__name__)

NAME_RELEASE_TIMEOUT_S = 5.0
"""How long to wait for Ray to free a killed child's name before starting its successor."""

_EVENT_OF = {
    Outcome.DIED: EventKind.DIED,
    Outcome.UNHEALTHY: EventKind.UNHEALTHY,
    Outcome.EXITED: EventKind.EXITED,
}
_FINAL = (ChildStatus.EXITED, ChildStatus.DEAD, ChildStatus.STOPPED)


class SupervisorStatus(StrEnum):
    """Life-cycle of a supervisor.

    Attributes:
        STARTING: Starting (or adopting) its children for the first time.
        RUNNING: Every child has been brought up once; reconciling.
        ESCALATED: Exceeded its intensity: children stopped, parent told; no more restarts.
        STOPPED: Stopped on request; children stopped in reverse order.
    """

    STARTING = "starting"
    RUNNING = "running"
    ESCALATED = "escalated"
    STOPPED = "stopped"


@ray.remote(num_cpus=0, max_restarts=0)
class Supervisor(DynamicChildren):
    """Supervises the children of a :class:`SupervisorSpec` (an async Ray actor).

    Create a root with :func:`supervisors.start_supervisor`; nested supervisors are created
    by their parent. Children are named ``<prefix>/<path>/<child>`` in ``namespace``; live
    children found under those names when the supervisor starts are adopted, not duplicated.
    Children can be added, removed and replaced while it runs (:mod:`supervisors.dynamic`).

    Args:
        spec: What to supervise and how.
        prefix: First segment(s) of every actor name (e.g. ``"evotrader"``).
        namespace: Ray namespace of the children (and of this supervisor).
        path: This supervisor's path (default: ``spec.name``; nested: ``parent/name``).
        parent: Handle of the parent supervisor (None for a root). Failures are reported to
            it and events forwarded to it.
        clock: Time source for event timestamps (default ``time.time``).
        event_sink: Optional callable or Ray actor method receiving every event (also those
            forwarded by nested supervisors).
        max_events: Size of the in-memory event log.
        lifetime: Ray lifetime of nested supervisors this one creates (``"detached"`` lets a
            restarted parent adopt them).
    """

    def __init__(
        self,
        spec: SupervisorSpec,
        *,
        prefix: str,
        namespace: str,
        path: str | None = None,
        parent: Any = None,
        clock: Callable[[], float] | None = None,
        event_sink: EventSink | None = None,
        max_events: int = 1000,
        lifetime: str | None = "detached",
    ) -> None:
        if not isinstance(spec, SupervisorSpec):
            raise SupervisorSpecError(f"Supervisor needs a SupervisorSpec, got {spec!r}")
        self._spec = spec
        self._spec_version = 0
        self._prefix = check_prefix(prefix)
        self._namespace = namespace
        self._path = path or spec.name
        self._actor_name = supervisor_actor_name(prefix, self._path)
        self._parent = parent
        self._clock = clock or time.time
        self._sink = event_sink
        self._max_events = max_events
        self._lifetime = lifetime
        self._log = EventLog(max_events)
        self._intensity = RestartIntensity(spec.max_restarts, spec.period_s)
        self._status = SupervisorStatus.STARTING
        self._children = [
            ChildRecord(
                spec=child,
                index=index,
                actor_name=child_actor_name(prefix, self._path, child.name),
                heartbeat=self._heartbeat_for(child),
            )
            for index, child in enumerate(spec.children)
        ]
        self._by_name = {record.name: record for record in self._children}
        self._lock = asyncio.Lock()
        self._forwarding: list[concurrent.futures.Future[Any]] = []
        self._loop_task = asyncio.get_event_loop().create_task(self._run())

    # ----------------------------------------------------------------- public API

    def ping(self) -> str:
        """Heartbeat for a parent: the status, ``DONE`` once stopped.

        Raises:
            SupervisorEscalatedError: This supervisor escalated and stopped its children.
        """
        if self._status is SupervisorStatus.ESCALATED:
            raise SupervisorEscalatedError(f"supervisor {self._path!r} escalated")
        if self._status is SupervisorStatus.STOPPED:
            return DONE
        return self._status.value

    async def watch(self, timeout_s: float) -> str:
        """A parent's death watch: answers after ``timeout_s`` (fails at once if this dies)."""
        await asyncio.sleep(timeout_s)
        return "ok"

    def status(self) -> str:
        """This supervisor's :class:`SupervisorStatus` value."""
        return self._status.value

    def events(self, since: int = 0) -> list[SupervisorEvent]:
        """Events with ``seq > since`` still in the bounded log, oldest first."""
        return self._log.since(since)

    def restart_counts(self) -> dict[str, int]:
        """Restarts of each direct child by this supervisor instance, by short name."""
        return {record.name: record.restarts for record in self._children}

    async def tree(self) -> TreeNode:
        """A snapshot of this supervisor and its subtree (nested supervisors are asked)."""
        nodes = []
        for record in self._children:
            node = child_node(record)
            if record.is_supervisor and record.handle is not None:
                try:
                    sub = await await_ref(record.handle.tree.remote(), self._call_timeout())
                    node = dataclasses.replace(node, children=sub.children)
                except Exception as exc:  # an unreachable subtree shows without children
                    _log.debug("tree of %s unavailable: %s", record.actor_name, exc)
            nodes.append(node)
        return TreeNode(
            name=self._spec.name,
            actor_name=self._actor_name,
            kind="supervisor",
            status=self._status.value,
            alive=self._status in (SupervisorStatus.STARTING, SupervisorStatus.RUNNING),
            restarts=self._intensity.count(time.monotonic()),
            last_heartbeat=None,
            restart=self._spec.restart.value,
            strategy=self._spec.strategy.value,
            children=tuple(nodes),
        )

    async def wait_child(self, name: str, timeout_s: float = 30.0) -> Any:
        """Wait until a child answers pings again and return its current handle.

        Use after a call failed with ``RayActorError``: the returned handle is the restarted
        actor (same name). ``name`` may be a path through nested supervisors
        (``"trading/executor"``).

        Raises:
            ChildUnavailableError: Unknown child, the child will not be restarted (exited,
                dead temporary, stopped, supervisor escalated), or not back within
                ``timeout_s``.
        """
        head, _, rest = name.partition("/")
        record = self._by_name.get(head)
        if record is None:
            known = ", ".join(self._by_name) or "none"
            raise ChildUnavailableError(
                f"supervisor {self._path!r} has no child {head!r} (children: {known})"
            )
        if rest and not record.is_supervisor:
            raise ChildUnavailableError(f"child {head!r} of {self._path!r} is not a supervisor")
        deadline = time.monotonic() + timeout_s
        last = f"status {record.status.value}"
        while True:
            if self._status in (SupervisorStatus.ESCALATED, SupervisorStatus.STOPPED) or (
                record.status in _FINAL
            ):
                raise ChildUnavailableError(
                    f"child {name!r} of {self._path!r} will not be restarted: child "
                    f"{record.status.value}, supervisor {self._status.value}"
                )
            remaining = deadline - time.monotonic()
            handle = record.handle
            if record.status is ChildStatus.RUNNING and handle is not None:
                # a new incarnation may still be in __init__: wait for its first answer
                patience = remaining if not record.heartbeat.answered else min(
                    remaining, self._spec.heartbeat_timeout_s
                )
                found, last = await self._confirm(handle, rest, max(patience, 0.05))
                if found is not None:
                    return found
                remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildUnavailableError(
                    f"child {name!r} of {self._path!r} not available within {timeout_s:g} s "
                    f"(last: {last})"
                )
            await asyncio.sleep(min(self._spec.loop_interval_s, max(remaining, 0.0)))

    async def stop(self) -> None:
        """Stop every child in reverse start order and stop reconciling.

        Each child gets ``stop()`` (if it has one) and up to its shutdown timeout, then
        ``ray.kill``. The supervisor actor stays up (status ``stopped``) for queries.
        """
        async with self._lock:
            if self._status is SupervisorStatus.STOPPED:
                return
            self._status = SupervisorStatus.STOPPED
            await self._stop_children("supervisor stopped")
            self._record("", EventKind.STOPPED, "stopped on request", 0)
            await self._flush_forwarded()

    def report_failure(self, child: str, reporter_id: str, detail: str) -> None:
        """Called by a nested supervisor that escalated: treat it as dead on the next pass.

        Reports from an incarnation other than the current one are ignored.
        """
        record = self._by_name.get(child)
        if record is None or record.handle is None or actor_id(record.handle) != reporter_id:
            return
        record.reported_failure = f"nested supervisor escalated: {detail}"

    def forward_events(self, events: list[SupervisorEvent]) -> None:
        """Called by nested supervisors: add their events to this log, sink and parent."""
        for event in events:
            self._publish(event)

    def set_parent(self, parent: Any) -> None:
        """Called by a restarted parent that adopted this supervisor."""
        self._parent = parent

    # ------------------------------------------------------------ reconcile loop

    async def _run(self) -> None:
        """The reconcile loop: one pass every ``loop_interval_s``, forever."""
        while True:
            try:
                async with self._lock:
                    await self._reconcile()
            except Exception as exc:
                self._error("reconcile loop", exc)
            await asyncio.sleep(self._spec.loop_interval_s)

    async def _reconcile(self) -> None:
        """One pass: bring up pending children, check heartbeats, apply the strategy."""
        if self._status in (SupervisorStatus.ESCALATED, SupervisorStatus.STOPPED):
            return
        await self._bring_up_pending()
        failures = self._check_children()
        for record, probe in failures:
            if self._status in (SupervisorStatus.ESCALATED, SupervisorStatus.STOPPED):
                return
            await self._handle_failure(record, probe)
        if failures:
            await self._bring_up_pending()
        if self._status is SupervisorStatus.STARTING and all(
            record.status is not ChildStatus.PENDING for record in self._children
        ):
            self._status = SupervisorStatus.RUNNING

    async def _bring_up_pending(self) -> None:
        """Start (or adopt) pending children in declared order.

        Except under one_for_one, a child that cannot start yet holds back the later ones,
        so that (e.g.) no executor runs without the guardian declared before it.
        """
        independent = self._spec.strategy is Strategy.ONE_FOR_ONE
        for record in self._children:
            if self._status in (SupervisorStatus.ESCALATED, SupervisorStatus.STOPPED):
                return
            if record.status is not ChildStatus.PENDING:
                continue
            if time.monotonic() < record.next_attempt_at or not await self._bring_up(record):
                if independent:
                    continue
                return

    async def _bring_up(self, record: ChildRecord) -> bool:
        """Adopt a live previous incarnation of ``record`` or start a new one."""
        try:
            existing = lookup(record.actor_name, self._namespace)
            if existing is not None:
                if actor_id(existing) != record.retired_id and await self._try_adopt(
                    record, existing
                ):
                    return True
                kill(existing)
                if not await wait_name_free(
                    record.actor_name, self._namespace, NAME_RELEASE_TIMEOUT_S
                ):
                    raise SupervisionError(
                        f"actor name {record.actor_name!r} is still taken "
                        f"{NAME_RELEASE_TIMEOUT_S:g} s after its actor was killed"
                    )
            handle = create_named(self._factory(record), record.actor_name, self._namespace)
        except Exception as exc:
            self._error(f"starting child {record.name!r}", exc, record)
            record.next_attempt_at = time.monotonic() + self._spec.restart_backoff_s
            if not self._intensity.record(time.monotonic()):
                await self._escalate(f"child {record.name!r} could not be started: {exc}")
            return False
        self._run_child(record, handle, answered=False)
        kind = EventKind.RESTARTED if record.started else EventKind.STARTED
        record.started = True
        self._record(record.name, kind, f"actor {record.actor_name}", record.restarts)
        return True

    async def _try_adopt(self, record: ChildRecord, existing: Any) -> bool:
        """Adopt ``existing`` if it answers a ping; True when the child is settled."""
        timeout = self._spec.heartbeat_timeout_s * self._spec.heartbeat_misses
        probe = await ping_once(existing, timeout)
        if probe.outcome is Outcome.ALIVE:
            self._run_child(record, existing, answered=True)
            record.last_heartbeat = self._now()
            record.started = True
            if record.is_supervisor:
                existing.set_parent.remote(ray.get_runtime_context().current_actor)
            self._record(record.name, EventKind.ADOPTED, f"actor {record.actor_name}", 0)
            return True
        if probe.outcome is Outcome.EXITED and not should_restart(record.restart, True):
            record.handle = existing
            await self._retire(record, graceful=True)
            record.status = ChildStatus.EXITED
            record.started = True
            self._record(record.name, EventKind.EXITED, probe.detail, record.restarts)
            return True
        self._record(
            record.name,
            _EVENT_OF.get(probe.outcome, EventKind.DIED),
            f"previous incarnation not adopted ({probe.detail}); replacing it",
            record.restarts,
        )
        return False

    def _check_children(self) -> list[tuple[ChildRecord, Probe]]:
        """Poll heartbeats (without waiting); return the children that ended or hang."""
        now = time.monotonic()
        found = []
        for record in self._children:
            if record.status is not ChildStatus.RUNNING:
                continue
            try:
                if record.reported_failure is not None:
                    probe = Probe(Outcome.DIED, record.reported_failure)
                    record.reported_failure = None
                else:
                    probe = record.heartbeat.poll(record.handle, now)
            except Exception as exc:
                self._error(f"heartbeat of child {record.name!r}", exc, record)
                continue
            if probe.outcome is Outcome.ALIVE:
                record.last_heartbeat = self._now()
            elif probe.outcome in _EVENT_OF:
                found.append((record, probe))
        return found

    async def _handle_failure(self, record: ChildRecord, probe: Probe) -> None:
        """Record the end of ``record`` and apply its restart type and the strategy."""
        if record.status is not ChildStatus.RUNNING:
            return  # already stopped by the restart of an earlier sibling in this pass
        normal = probe.outcome is Outcome.EXITED
        kind = _EVENT_OF[probe.outcome]
        self._record(record.name, kind, probe.detail, record.restarts)
        await self._retire(record, graceful=normal)
        if not should_restart(record.restart, normal):
            record.status = ChildStatus.EXITED if normal else ChildStatus.DEAD
            if normal and getattr(record.spec, "significant", False) and self._spec.auto_shutdown:
                await self._auto_shutdown(record)
            return
        now = time.monotonic()
        if not self._intensity.record(now):
            record.status = ChildStatus.STOPPED
            await self._escalate(
                f"{self._intensity.count(now)} restarts within {self._spec.period_s:g} s exceed "
                f"max_restarts={self._spec.max_restarts} (last: child {record.name!r} "
                f"{kind.value}: {probe.detail})"
            )
            return
        scope = restart_scope(self._spec.strategy, len(self._children), record.index)
        for index in reversed(scope):
            sibling = self._children[index]
            if sibling is not record and sibling.status is ChildStatus.RUNNING:
                await self._stop_sibling(sibling, record)
        record.status = ChildStatus.PENDING
        record.restarts += 1

    async def _stop_sibling(self, sibling: ChildRecord, failed: ChildRecord) -> None:
        """Stop ``sibling`` because the strategy restarts it together with ``failed``."""
        how = await self._retire(sibling, graceful=True)
        reason = f"stopped to restart with {failed.name!r} ({self._spec.strategy.value}): {how}"
        if sibling.restart is RestartType.TEMPORARY:
            sibling.status = ChildStatus.STOPPED
            self._record(sibling.name, EventKind.STOPPED, f"{reason}; temporary: not restarted",
                         sibling.restarts)
            return
        sibling.status = ChildStatus.PENDING
        sibling.restarts += 1
        self._record(sibling.name, EventKind.STOPPED, reason, sibling.restarts)

    async def _auto_shutdown(self, record: ChildRecord) -> None:
        """A significant child exited normally: stop the others, then end this supervisor."""
        self._status = SupervisorStatus.STOPPED
        await self._stop_children(f"auto shutdown: significant child {record.name!r} exited")
        self._record("", EventKind.STOPPED, f"auto shutdown after {record.name!r} exited", 0)
        await self._flush_forwarded()
        if self._parent is None:  # a root ends itself; a nested one answers DONE to its parent
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)

    async def _escalate(self, detail: str) -> None:
        """Stop every child, record the escalation and report failure to the parent."""
        self._status = SupervisorStatus.ESCALATED
        await self._stop_children("escalation")
        self._record("", EventKind.ESCALATED, detail, self._intensity.count(time.monotonic()))
        if self._parent is not None:
            try:
                self._parent.report_failure.remote(
                    self._spec.name, ray.get_runtime_context().get_actor_id(), detail
                )
            except Exception as exc:  # parent gone: it will see our failing pings
                _log.warning("cannot report escalation of %s: %s", self._path, exc)

    async def _stop_children(self, reason: str) -> None:
        """Stop running children in reverse order; pending ones will not start."""
        for record in reversed(self._children):
            if record.handle is not None:
                how = await self._retire(record, graceful=True)
                record.status = ChildStatus.STOPPED
                self._record(record.name, EventKind.STOPPED, f"{reason}: {how}", record.restarts)
            elif record.status is ChildStatus.PENDING:
                record.status = ChildStatus.STOPPED

    async def _retire(self, record: ChildRecord, *, graceful: bool) -> str:
        """End the current incarnation of ``record`` and wait until its name is free."""
        handle, record.handle = record.handle, None
        if handle is None:
            return "not running"
        record.retired_id = actor_id(handle)
        if graceful:
            how = await stop_gracefully(handle, record.spec.shutdown_timeout_s)
        else:
            kill(handle)
            how = "killed"
        if not await wait_name_free(record.actor_name, self._namespace, NAME_RELEASE_TIMEOUT_S):
            how += f"; name still registered after {NAME_RELEASE_TIMEOUT_S:g} s"
        return how

    # ------------------------------------------------------------------ helpers

    def _run_child(self, record: ChildRecord, handle: Any, *, answered: bool) -> None:
        record.handle = handle
        record.status = ChildStatus.RUNNING
        record.reported_failure = None
        record.heartbeat.begin(handle, time.monotonic(), answered=answered)

    def _factory(self, record: ChildRecord) -> Callable[[str], Any]:
        """The child's factory; for a nested supervisor, one creating a Supervisor actor."""
        spec = record.spec
        if isinstance(spec, ChildSpec):
            return spec.factory
        parent = ray.get_runtime_context().current_actor

        def create(name: str) -> Any:
            return Supervisor.options(
                name=name,
                namespace=self._namespace,
                lifetime=self._lifetime,
                num_cpus=0,
                max_restarts=0,
            ).remote(
                spec,
                prefix=self._prefix,
                namespace=self._namespace,
                path=f"{self._path}/{spec.name}",
                parent=parent,
                clock=self._clock,
                max_events=self._max_events,
                lifetime=self._lifetime,
            )

        return create

    async def _confirm(self, handle: Any, rest: str, timeout_s: float) -> tuple[Any, str]:
        """Check that ``handle`` (or its descendant ``rest``) answers; (handle|None, why)."""
        if rest:
            try:
                found = await await_ref(handle.wait_child.remote(rest, timeout_s), timeout_s + 5)
                return found, "found"
            except Exception as exc:  # the subtree may be restarting: keep waiting
                return None, f"{type(exc).__name__}: {exc}"
        probe = await ping_once(handle, timeout_s)
        if probe.outcome is Outcome.ALIVE:
            return handle, "alive"
        return None, probe.detail or probe.outcome.value

    def _heartbeat_for(self, child: ChildSpec | SupervisorSpec) -> Heartbeat:
        return Heartbeat(
            interval_s=self._spec.heartbeat_interval_s,
            timeout_s=self._spec.heartbeat_timeout_s,
            misses=self._spec.heartbeat_misses,
            start_timeout_s=child.start_timeout_s,
        )

    def _call_timeout(self) -> float:
        return max(2.0, self._spec.heartbeat_timeout_s)

    def _now(self) -> float:
        """The injected clock; falls back to ``time.time`` if it raises."""
        try:
            return float(self._clock())
        except Exception:
            _log.exception("supervisor clock failed; using time.time()")
            return time.time()

    def _record(self, child: str, kind: EventKind, detail: str, restarts: int) -> None:
        event = SupervisorEvent(0, self._now(), self._path, child, kind, detail, restarts)
        self._publish(event)

    def _publish(self, event: SupervisorEvent) -> None:
        """Log ``event`` here, hand it to the sink, and forward it to the parent."""
        stored = self._log.append(event)
        deliver(self._sink, stored)
        if self._parent is not None:
            try:
                sent = self._parent.forward_events.remote([stored]).future()
                self._forwarding = [f for f in self._forwarding if not f.done()] + [sent]
            except Exception as exc:  # a dead parent must not break the loop
                _log.warning("cannot forward event to parent of %s: %s", self._path, exc)

    async def _flush_forwarded(self) -> None:
        """Wait (briefly) until the parent has the forwarded events: we may be killed next."""
        pending, self._forwarding = self._forwarding, []
        if pending:
            await asyncio.wait(
                [asyncio.wrap_future(sent) for sent in pending], timeout=self._call_timeout()
            )

    def _error(self, where: str, exc: BaseException, record: ChildRecord | None = None) -> None:
        """Record a caught exception as an ``error`` event; never raises."""
        try:
            child, restarts = (record.name, record.restarts) if record else ("", 0)
            self._record(child, EventKind.ERROR, f"{where}: {type(exc).__name__}: {exc}", restarts)
        except Exception:
            _log.exception("supervisor %s could not record an error", self._path)
