"""Children that come and go: ``start_child``, ``terminate_child``, ``replace_child``.

A :class:`~supervisors.supervisor.Supervisor` mixes these in (OTP's dynamic children): a
candidate is added while a session runs, removed when it is retired, and the active slot is
replaced under supervision. Each change updates the supervisor's target state (its spec:
``spec()`` answers it, version ``spec_version()``), and the reconcile loop then supervises the
new child like a declared one: same restart types, intensity and strategy, in the start
order it was given.

As in OTP, the changes belong to this supervisor instance: a supervisor that its parent
restarts starts again from the spec its parent holds, so whoever owns the target (the session,
from its ledger) applies its changes again after such a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from supervisors.child import ChildRecord, ChildStatus
from supervisors.errors import ChildUnavailableError, SupervisionError
from supervisors.events import EventKind
from supervisors.naming import child_actor_name
from supervisors.spec import ChildSpec, SupervisorSpec

if TYPE_CHECKING:
    from supervisors.health import Heartbeat

Child = ChildSpec | SupervisorSpec


class DynamicChildren:
    """The supervisor's API for children added, removed or replaced while it runs."""

    _spec: SupervisorSpec
    _prefix: str
    _path: str
    _children: list[ChildRecord]
    _by_name: dict[str, ChildRecord]
    _lock: asyncio.Lock
    _spec_version: int
    _status: StrEnum

    def spec(self) -> SupervisorSpec:
        """The current target state: the declared children and those added since."""
        return self._spec

    def spec_version(self) -> int:
        """How many changes the target state has had in this instance (0: as declared)."""
        return self._spec_version

    async def start_child(self, child: Child) -> str:
        """Add ``child`` after the others and start it; returns its Ray actor name.

        Raises:
            SupervisorSpecError: A child of that name exists (names become actor names).
            SupervisionError: This supervisor is stopped or escalated.
        """
        async with self._lock:
            self._accepting("start a child")
            self._set_children((*self._spec.children, child))
            record = self._new_record(child, len(self._children))
            self._children.append(record)
            self._by_name[child.name] = record
            await self._bring_up_pending()
            return record.actor_name

    async def terminate_child(self, name: str) -> str:
        """Stop child ``name`` for good (graceful stop, then kill) and forget it.

        Returns:
            How it was stopped.

        Raises:
            ChildUnavailableError: No such child.
        """
        async with self._lock:
            record = self._child(name)
            how = await self._retire(record, graceful=True)
            record.status = ChildStatus.STOPPED
            self._record(name, EventKind.STOPPED, f"terminated on request: {how}",
                         record.restarts)
            self._set_children(tuple(c for c in self._spec.children if c.name != name))
            self._children.remove(record)
            del self._by_name[name]
            for index, sibling in enumerate(self._children):
                sibling.index = index
            return how

    async def replace_child(self, name: str, child: Child) -> str:
        """Stop child ``name`` and start ``child`` in its place in the start order.

        The new child may keep the name (a new incarnation of another definition) or take
        another one. Returns the new child's Ray actor name.

        Raises:
            ChildUnavailableError: No child ``name``.
            SupervisorSpecError: ``child`` takes the name of another child.
            SupervisionError: This supervisor is stopped or escalated.
        """
        async with self._lock:
            self._accepting("replace a child")
            record = self._child(name)
            self._set_children(tuple(child if c.name == name else c
                                     for c in self._spec.children))
            how = await self._retire(record, graceful=True)
            record.status = ChildStatus.STOPPED
            self._record(name, EventKind.STOPPED, f"replaced by {child.name!r}: {how}",
                         record.restarts)
            new = self._new_record(child, record.index)
            self._children[record.index] = new
            del self._by_name[name]
            self._by_name[child.name] = new
            await self._bring_up_pending()
            return new.actor_name

    # ------------------------------------------------------------------ helpers

    def _accepting(self, what: str) -> None:
        status = str(self._status)
        if status in ("escalated", "stopped"):
            raise SupervisionError(f"supervisor {self._path!r} is {status}: cannot {what}")

    def _child(self, name: str) -> ChildRecord:
        record = self._by_name.get(name)
        if record is None:
            known = ", ".join(self._by_name) or "none"
            raise ChildUnavailableError(
                f"supervisor {self._path!r} has no child {name!r} (children: {known})")
        return record

    def _set_children(self, children: tuple[Child, ...]) -> None:
        """The new target state (validated: unique names, spec types)."""
        self._spec = dataclasses.replace(self._spec, children=children)
        self._spec_version += 1

    def _new_record(self, child: Child, index: int) -> ChildRecord:
        return ChildRecord(spec=child, index=index,
                           actor_name=child_actor_name(self._prefix, self._path, child.name),
                           heartbeat=self._heartbeat_for(child))

    # provided by the Supervisor
    def _heartbeat_for(self, child: Child) -> Heartbeat:
        raise NotImplementedError

    async def _retire(self, record: ChildRecord, *, graceful: bool) -> str:
        raise NotImplementedError

    async def _bring_up_pending(self) -> None:
        raise NotImplementedError

    def _record(self, child: str, kind: EventKind, detail: str, restarts: int) -> Any:
        raise NotImplementedError
