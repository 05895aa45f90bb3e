"""The active slot's swap schedule on disk (``state/policy_swaps.jsonl``), appended durably.

The session appends a swap (fsynced) before it publishes the swap's first step; the slot
rereads the file when it changed (one ``stat`` per step) before computing a step. See
:mod:`core.governance.swaps`.
"""

from __future__ import annotations

from pathlib import Path

from actors.adapters.files import FileWatch, append_line_durably
from core.governance.swaps import PolicySchedule, PolicySwap, read_schedule
from core.trading.choice import StrategyChoice

SWAPS_FILE = "policy_swaps.jsonl"


def swaps_path(state_dir: str | Path) -> Path:
    """Where a session's schedule lives."""
    return Path(state_dir) / SWAPS_FILE


def append_swap(state_dir: str | Path, swap: PolicySwap) -> None:
    """Append ``swap`` to the schedule (durable on return)."""
    path = swaps_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_line_durably(path, swap.to_json())


def load_schedule(state_dir: str | Path, initial: StrategyChoice) -> PolicySchedule:
    """The schedule on disk (only the initial strategy when there is no file).

    Raises:
        ConfigError: The file is corrupt before its last line.
    """
    path = swaps_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PolicySchedule(initial)
    return read_schedule(initial, text.splitlines())


class ScheduleFile:
    """The schedule as a slot sees it: reread only when the file changed.

    Args:
        state_dir: The session's state folder ("" = no file: the initial strategy only).
        initial: The session's initial strategy.
    """

    def __init__(self, state_dir: str, initial: StrategyChoice) -> None:
        self._state_dir = state_dir
        self._schedule = PolicySchedule(initial)
        self._watch = FileWatch(swaps_path(state_dir)) if state_dir else None

    def current(self) -> PolicySchedule:
        """The schedule, refreshed when the file changed since the last call."""
        if self._watch is not None and self._watch.changed():
            self._schedule = load_schedule(self._state_dir, self._schedule.initial)
        return self._schedule
