"""Scheduling priority of the live actors' processes.

Ray starts its workers at a low priority (nice 15). The bar-to-order path (feeds, slot,
guardian, executor, session) is latency-bound: each hop waits for its process to be
scheduled. These actors ask for the normal priority (nice 0) when the process may raise it
(root or CAP_SYS_NICE; otherwise they stay where Ray put them), and the candidates, whom
nobody waits for within a step, take the lowest (19).
"""

from __future__ import annotations

import contextlib
import os

LATENCY_CRITICAL_NICE = 0
BACKGROUND_NICE = 19


def set_nice(target: int) -> int:
    """Move this process to niceness ``target`` if allowed; returns the niceness in force."""
    with contextlib.suppress(OSError):
        os.nice(target - os.nice(0))
    return os.nice(0)


def latency_critical() -> int:
    """This process is on the bar-to-order path."""
    return set_nice(LATENCY_CRITICAL_NICE)


def background() -> int:
    """This process does work nobody waits for within a step."""
    return set_nice(BACKGROUND_NICE)
