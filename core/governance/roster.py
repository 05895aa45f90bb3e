"""Which candidates paper-trade at each step of a session: its candidate roster (pure).

A candidate added or removed while a session runs (``scripts/promote.py candidate add``, a
promotion that demotes the active policy, an automatic rule) does not restart anything: the
session appends a :class:`RosterChange` — from step ``from_seq`` on, this candidate trades (or
no longer does) — to a durable roster before the bars of that step are published. Every
incarnation of every actor then agrees on what each candidate trades: an added candidate's
first step is ``from_seq`` (its book starts flat with the initial cash, its strategy warmed up
from the feeds' history), a removed one's last step is ``from_seq - 1``, whenever the request
came and whatever restarted since. A name added once is never added again in the same
session (its book's records would mix two lives).

The changes are kept in the order they were decided (each starts after the step the session had
published then, so none changes the past). The roster can also be frozen (a drift alarm's
``freeze_candidates`` action): from then on it refuses additions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import ConfigError

Action = Literal["add", "remove", "freeze"]
ACTIONS: tuple[str, ...] = ("add", "remove", "freeze")


@dataclass(frozen=True, slots=True)
class RosterChange:
    """From step ``from_seq`` on, candidate ``name`` trades (``add``) or not (``remove``).

    Attributes:
        from_seq: First step the change is in force.
        action: ``add``, ``remove``, or ``freeze`` (no addition from then on; no name).
        name: The candidate's name (``p-<policy hash>`` for a ledger policy).
        spec: The policy's canonical JSON (``add`` only).
        drift: JSON of its drift model ("" = none; ``add`` only).
        reason: Why (the ledger action, the alarm).
        request: Id of the request that caused it (a retried request is applied once).
    """

    from_seq: int
    action: str
    name: str = ""
    spec: str = ""
    drift: str = ""
    reason: str = ""
    request: str = ""

    def __post_init__(self) -> None:
        if self.from_seq < 0:
            raise ConfigError(f"a roster change starts at step {self.from_seq}: must be >= 0")
        if self.action not in ACTIONS:
            raise ConfigError(f"a roster change is one of {ACTIONS}, got {self.action!r}")
        if self.action != "freeze" and not self.name:
            raise ConfigError(f"a roster change {self.action!r} needs a candidate name")
        if self.action == "add" and not self.spec:
            raise ConfigError(f"adding candidate {self.name!r} needs its policy")

    def to_json(self) -> str:
        """One line of the roster file."""
        return json.dumps({"from_seq": self.from_seq, "action": self.action,
                           "name": self.name, "spec": self.spec, "drift": self.drift,
                           "reason": self.reason, "request": self.request}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RosterChange:
        """A change from :meth:`to_json`.

        Raises:
            ConfigError: Not a roster change.
        """
        try:
            body: dict[str, Any] = json.loads(text)
            return cls(int(body["from_seq"]), str(body["action"]), str(body["name"]),
                       str(body["spec"]), str(body["drift"]), str(body["reason"]),
                       str(body["request"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a roster change: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Membership:
    """The steps a candidate trades: ``[first, until)`` (``until`` None = to the end)."""

    name: str
    first: int
    until: int | None
    spec: str = ""
    drift: str = ""

    def trades_at(self, seq: int) -> bool:
        """True when the candidate trades step ``seq``."""
        return seq >= self.first and (self.until is None or seq < self.until)

    @property
    def last(self) -> int | None:
        """Its last step (None while it is not removed)."""
        return None if self.until is None else self.until - 1


@dataclass(frozen=True, slots=True)
class CandidateRoster:
    """The session's initial candidates and the changes since, in step order."""

    initial: tuple[str, ...]
    changes: tuple[RosterChange, ...] = ()

    _members: dict[str, Membership] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_members", _fold(self.initial, self.changes))

    def members(self) -> dict[str, Membership]:
        """Every candidate that trades or traded in the session, by name, in order."""
        return dict(self._members)

    def membership(self, name: str) -> Membership | None:
        """The steps ``name`` trades (None: never in this session)."""
        return self._members.get(name)

    def added(self) -> list[Membership]:
        """The candidates added while the session ran (not the initial ones)."""
        return [m for m in self._members.values() if m.name not in self.initial]

    def trading_at(self, seq: int) -> list[str]:
        """The names trading step ``seq``."""
        return [m.name for m in self._members.values() if m.trades_at(seq)]

    def frozen(self) -> bool:
        """True once a freeze was decided (no addition is accepted after it)."""
        return any(c.action == "freeze" for c in self.changes)

    def by_request(self, request: str) -> RosterChange | None:
        """The change a request caused (None: not applied yet)."""
        return next((c for c in self.changes if request and c.request == request), None)

    def appended(self, change: RosterChange) -> CandidateRoster:
        """This roster with ``change`` after the others.

        Raises:
            ConfigError: The change contradicts the roster (see the class doc).
        """
        return CandidateRoster(self.initial, (*self.changes, change))

    def refusal(self, change: RosterChange) -> str:
        """Why ``change`` cannot be applied ("" when it can)."""
        if change.action == "add" and any(c.action == "freeze" for c in self.changes):
            return "the roster is frozen by a drift alarm: no new candidate in this session"
        try:
            self.appended(change)
        except ConfigError as exc:
            return str(exc)
        return ""


def _fold(initial: Sequence[str], changes: Sequence[RosterChange]) -> dict[str, Membership]:
    """The memberships ``changes`` make of the ``initial`` candidates.

    Raises:
        ConfigError: The changes contradict (see :class:`CandidateRoster`).
    """
    members: dict[str, Membership] = {n: Membership(n, 0, None) for n in initial}
    for change in changes:
        current = members.get(change.name)
        if change.action == "add":
            if current is not None:
                raise ConfigError(f"candidate {change.name!r} was already in this session "
                                  "(a name trades one life per session)")
            members[change.name] = Membership(change.name, change.from_seq, None,
                                              change.spec, change.drift)
        elif change.action == "remove":
            if current is None or current.until is not None:
                raise ConfigError(f"candidate {change.name!r} is not trading: cannot "
                                  "remove it")
            members[change.name] = Membership(current.name, current.first,
                                              max(change.from_seq, current.first),
                                              current.spec, current.drift)
    return members


def read_roster(initial: Sequence[str], lines: Sequence[str]) -> CandidateRoster:
    """A roster from the roster file's lines (a torn last line is ignored).

    Raises:
        ConfigError: A line before the last one is not a change, or they contradict.
    """
    changes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            changes.append(RosterChange.from_json(line))
        except ConfigError:
            if number == len(lines):
                break  # a write cut short by a crash: that change was never applied
            raise
    return CandidateRoster(tuple(initial), tuple(changes))
