"""Why the guardian halts trading: the kill switch, and reconciliation with the executor.

One :class:`HaltControl` per guardian holds the halt's source (``file``, a command's source,
``reconcile_mismatch``, ``executor_halted``, or the one the executor recorded before this
guardian started): the kill-switch file and command set it; a reconciliation of the
executor's account (taken at a step's start) with the book at that start sets it on a
mismatch, and follows the executor when it fails closed or trades again.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from actors.live.calls import ActorDirectory, call_named
from actors.live.executor import HALT_FILE
from core.trading.portfolio import Portfolio
from core.trading.trader import TraderState

RECONCILE_S = 2.0
"""Least time between two reconciliations with the executor."""
EXECUTOR_HALTED = "executor_halted"
"""Halt source while the executor refuses new orders (lifted when it trades again)."""


class HaltControl:
    """See the module doc.

    Args:
        state_dir: The session's state folder (the executor's halt record).
        executor: Ray name of the executor.
        namespace: Ray namespace.
        directory: Named-actor calls.
        kill_switch_file: The file whose existence halts trading ("" = none).
        last_ts: The book's last bar time (what a halt is stamped with).
        log: The guardian's logger.
        applied: The halt source the guardian's snapshot had applied ("" = none).
    """

    def __init__(self, state_dir: str, executor: str, namespace: str,
                 directory: ActorDirectory, kill_switch_file: str,
                 last_ts: Callable[[], int], log: Any, applied: str = "") -> None:
        self._executor, self._namespace, self._directory = executor, namespace, directory
        self._file, self._last_ts, self._log = kill_switch_file, last_ts, log
        self.source: str | None = applied or halted_by(state_dir)
        self._last_reconcile = 0.0

    def file_or_command(self) -> str:
        """The halt's source at a step's start ("" = none), the kill-switch file included."""
        if self._file and Path(self._file).exists() and self.source is None:
            self.source = "file"
            self._halt_executor("kill_switch:file")
        return self.source or ""

    def engage(self, source: str) -> dict[str, Any]:
        """Halt now: the executor cancels working orders and refuses new ones."""
        started = time.perf_counter()
        self.source = self.source or source
        self._log.warning("kill switch engaged", source=source)
        updates = call_named(self._executor, self._namespace, "halt", self._last_ts(),
                             f"kill_switch:{source}")
        return {"cancelled": len(updates), "elapsed_ms": (time.perf_counter() - started) * 1e3}

    def account_request(self) -> Any:
        """Ask the executor for its account (None: not this step, or it is unreachable)."""
        halted_by_executor = self.source == EXECUTOR_HALTED  # asked every step: lifted
        if time.monotonic() - self._last_reconcile < RECONCILE_S and not halted_by_executor:
            return None
        self._last_reconcile = time.monotonic()
        try:
            return self._directory.handle(self._executor).account.remote()
        except Exception:  # noqa: BLE001 - reconciliation is skipped this time
            return None

    def reconcile(self, pending: Any, start: TraderState) -> None:
        """Compare the executor's account, taken at the step's start, with the book then."""
        if pending is None:
            return
        try:
            account = ray.get(pending, timeout=5.0)
        except Exception:  # noqa: BLE001 - the executor restarted: next time
            return
        if account.halted and self.source is None:  # the executor failed closed
            self._log.error("the executor refuses new orders: halting")
            self.source = EXECUTOR_HALTED
            return
        if not account.halted and self.source == EXECUTOR_HALTED:
            self._log.warning("the executor trades again (its reconciliation was resolved): "
                              "lifting the halt it caused")
            self.source = None
            return
        if account.last_event != start.cursor:
            return  # taken after the step's first exchange: not comparable
        problems = Portfolio.from_state(start.portfolio).reconcile(account)
        if problems and not account.halted:
            self._log.error("reconciliation failed: halting", problems=problems)
            self.source = self.source or "reconcile_mismatch"
            self._halt_executor("reconcile_mismatch")

    def _halt_executor(self, reason: str) -> None:
        with contextlib.suppress(Exception):
            call_named(self._executor, self._namespace, "halt", self._last_ts(), reason)


def halted_by(state_dir: str) -> str | None:
    """The kill switch recorded by the executor (it outlives a guardian restart), if any."""
    path = Path(state_dir) / HALT_FILE
    try:
        reason = str(json.loads(path.read_text())["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return reason.removeprefix("kill_switch:") or "kill_switch"
