"""The session's candidate roster on disk (``state/candidate_roster.jsonl``), appended durably.

The session appends a change (fsynced) before it publishes the change's first step; the feeds
(whom they push to), the candidates (their last step) and the session actor (whom it finishes,
what it starts again after a restart) reread the file when it changed: one ``stat`` per look.
See :mod:`core.governance.roster`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from actors.adapters.files import FileWatch, append_line_durably
from actors.live.names import candidate_actor
from core.errors import ConfigError
from core.governance.roster import CandidateRoster, RosterChange, read_roster

ROSTER_FILE = "candidate_roster.jsonl"


def roster_path(state_dir: str | Path) -> Path:
    """Where a session's roster lives."""
    return Path(state_dir) / ROSTER_FILE


def append_change(state_dir: str | Path, change: RosterChange) -> None:
    """Append ``change`` to the roster (durable on return)."""
    path = roster_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_line_durably(path, change.to_json())


def load_roster(state_dir: str | Path, initial: Sequence[str]) -> CandidateRoster:
    """The roster on disk (only the initial candidates when there is no file).

    Raises:
        ConfigError: The file is corrupt before its last line.
    """
    try:
        text = roster_path(state_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return CandidateRoster(tuple(initial))
    return read_roster(initial, text.splitlines())


@dataclass(frozen=True, slots=True)
class RosterSpec:
    """Where an actor finds the session's roster (pickles into its factory).

    Attributes:
        state_dir: The session's state folder.
        initial: The session's initial candidate names.
    """

    state_dir: str
    initial: tuple[str, ...]

    def watch(self) -> RosterFile:
        """A fresh reader of the roster."""
        return RosterFile(self.state_dir, self.initial)

    def reader(self) -> Callable[[], list[str]]:
        """A function answering the Ray names of the candidates added and still trading."""
        roster = self.watch()
        last: list[str] = []

        def added() -> list[str]:
            nonlocal last
            with contextlib.suppress(ConfigError):  # corrupt: push to the last known ones
                last = [candidate_actor(m.name) for m in roster.current().added()
                        if m.until is None]
            return last

        return added


class RosterFile:
    """The roster as an actor sees it: reread only when the file changed.

    Args:
        state_dir: The session's state folder ("" = no file: the initial candidates only).
        initial: The session's initial candidate names.
    """

    def __init__(self, state_dir: str, initial: Sequence[str]) -> None:
        self._state_dir = state_dir
        self._roster = CandidateRoster(tuple(initial))
        self._watch = FileWatch(roster_path(state_dir)) if state_dir else None

    def current(self) -> CandidateRoster:
        """The roster, refreshed when the file changed since the last call."""
        if self._watch is not None and self._watch.changed():
            self._roster = load_roster(self._state_dir, self._roster.initial)
        return self._roster
