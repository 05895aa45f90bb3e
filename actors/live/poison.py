"""Work that got its actor restarted for making no progress: a marker per step.

Before a step the owner notes the step in flight (in memory: a step nobody got stuck on
leaves nothing for a successor, so the common path touches no file). When the heartbeat finds
the step stuck (:mod:`actors.live.liveness`) it writes the marker (step, stuck attempts so
far plus one) before the supervisor replaces the actor; the step's end removes a marker that
was written or inherited. The successor inherits the marker: past :data:`MAX_ATTEMPTS` stuck
attempts on the same step the work is poisoned and the owner stops attempting it (a strategy
is disabled and gives no signals) instead of hanging on it forever. Deaths for other
reasons (a kill, a crash) do not count. The marker is a small JSON file, not fsynced: it
guards against the death of a process, not of the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

MAX_ATTEMPTS = 2
"""Stuck attempts on the same step after which the work is given up."""


@dataclass(frozen=True, slots=True)
class Inflight:
    """What a predecessor was doing: step ``seq``, on which it got stuck ``stuck`` times."""

    seq: int
    stuck: int


class PoisonGuard:
    """The in-flight marker of one owner (``slot``, ``candidate-<name>``).

    Args:
        state_dir: The session's state folder.
        owner: Owner name (file ``<owner>.inflight``).
    """

    def __init__(self, state_dir: str | Path, owner: str) -> None:
        self.path = Path(state_dir) / f"{owner}.inflight"
        self.disabled_path = Path(state_dir) / f"{owner}.disabled"
        self.inherited = self._read()
        self._marker_on_disk = self.inherited is not None
        self._current: Inflight | None = None
        self._disabled = self._read_disabled()

    def _read(self) -> Inflight | None:
        try:
            body = json.loads(self.path.read_text())
            return Inflight(int(body["seq"]), int(body["stuck"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _read_disabled(self) -> str:
        try:
            return self.disabled_path.read_text()
        except OSError:
            return ""

    def disabled_reason(self) -> str:
        """Why this owner's work was given up ("" if it was not).

        Read when the owner starts: only the owner itself gives its work up later.
        """
        return self._disabled

    def begin(self, seq: int) -> int:
        """Mark step ``seq`` as in flight; returns how often it got an actor stuck so far."""
        previous = self.inherited
        stuck = previous.stuck if previous is not None and previous.seq == seq else 0
        if not stuck and self._marker_on_disk:  # an inherited marker of another step
            self.end()
        self._current = Inflight(seq, stuck)
        return stuck

    def mark_stuck(self) -> None:
        """The step in flight is stuck (called once, from the failing heartbeat)."""
        current = self._current
        if current is not None:
            self._current = None  # once per step
            self._write(Inflight(current.seq, current.stuck + 1))

    def end(self) -> None:
        """The step finished: forget the marker."""
        self.inherited = None
        self._current = None
        if self._marker_on_disk:
            self._marker_on_disk = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _write(self, inflight: Inflight) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".tmp{os.getpid()}")
        temporary.write_text(json.dumps({"seq": inflight.seq, "stuck": inflight.stuck}))
        os.replace(temporary, self.path)
        self._marker_on_disk = True

    def refusal(self, seq: int, what: str) -> str:
        """Begin step ``seq``; the reason to refuse it if ``what`` was given up, else "".

        ``what`` names the work in the reason (e.g. the strategy id). Past
        :data:`MAX_ATTEMPTS` stuck attempts on ``seq`` the work is given up for good here.
        """
        reason = self.disabled_reason()
        if reason:
            return reason
        if self.begin(seq) >= MAX_ATTEMPTS:
            reason = (f"{what}: disabled: it got stuck on step {seq} {MAX_ATTEMPTS} times (its "
                      "actor was restarted for making no progress); no signals from now on")
            self.give_up(reason)
        return reason

    def give_up(self, reason: str) -> None:
        """Record for good that this owner's work is disabled."""
        self.disabled_path.write_text(reason)
        self._disabled = reason
        self.end()
