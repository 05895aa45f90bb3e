"""Snapshots off the acknowledgement path: a background writer, latest state wins.

An actor hands its state to :meth:`Snapshotter.offer` after a step; a thread encodes and
writes it (:class:`~actors.live.checkpoint.Checkpoint`: typed, versioned, atomic, fsynced)
at most every ``interval_s``, always the newest state offered, so the step itself never
waits for a disk. Before writing, the thread runs the actor's ``before_write`` hook (the
guardian confirms the step's records in the store first: a snapshot never covers a step the
store has not). :meth:`flush` writes the newest state now (stop, end of session, kill switch).

Recovery is the snapshot plus what happened after it: the journal (guardian, executor) or
the feeds' bars (candidates), replayed through the same code as the live steps.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.live.checkpoint import Checkpoint

DEFAULT_INTERVAL_S = 1.0
"""Least time between two snapshots of one actor."""


class Snapshotter:
    """Writes the newest offered state of one owner in a background thread.

    Args:
        checkpoint: Where the owner's snapshots go.
        interval_s: Least time between two writes (0: every offer is written).
        before_write: Called with the state's step before it is written (in the thread).
        on_written: Called with the step after a write (e.g. a journal watermark).
        on_error: Called with an exception the thread met (the state is offered again).
    """

    def __init__(self, checkpoint: Checkpoint, interval_s: float = DEFAULT_INTERVAL_S,
                 before_write: Callable[[int], None] | None = None,
                 on_written: Callable[[int], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.checkpoint = checkpoint
        self.interval_s = interval_s
        self._before_write, self._on_written = before_write, on_written
        self._on_error = on_error
        self._cond = threading.Condition()
        self._offered: tuple[int, Any] | None = None
        self._written_seq: int | None = None
        self._last_write = -math.inf
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"snapshot-{checkpoint.owner}",
                                        daemon=True)
        self._thread.start()

    @property
    def written_seq(self) -> int | None:
        """Step of the last snapshot written by this instance."""
        return self._written_seq

    def offer(self, seq: int, state: Any) -> None:
        """The owner's state after step ``seq`` (an independent value: it is written later)."""
        with self._cond:
            self._offered = (seq, state)
            self._cond.notify_all()

    def flush(self, timeout_s: float = 60.0) -> None:
        """Write the newest offered state now and wait until it is on disk.

        Raises:
            TimeoutError: The writer did not finish in time.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._last_write = -math.inf
            self._cond.notify_all()
            while self._offered is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"snapshot of {self.checkpoint.owner} not written in "
                                       f"{timeout_s:g} s")
                self._cond.wait(left)

    def close(self) -> None:
        """Stop the thread after writing what is offered."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (
                        self._offered is None
                        or time.monotonic() - self._last_write < self.interval_s):
                    wait = None if self._offered is None else max(
                        0.0, self.interval_s - (time.monotonic() - self._last_write))
                    self._cond.wait(wait)
                if self._offered is None:
                    return
                seq, state = self._offered
                self._offered, self._busy = None, True
            try:
                if self._before_write is not None:
                    self._before_write(seq)
                self.checkpoint.save(state)
                self._written_seq = seq
                if self._on_written is not None:
                    self._on_written(seq)
            except Exception as exc:  # noqa: BLE001 - reported; the next offer retries
                with self._cond:
                    if self._offered is None:
                        self._offered = (seq, state)
                if self._on_error is not None:
                    self._on_error(exc)
                time.sleep(0.1)
            finally:
                with self._cond:
                    self._busy = False
                    self._last_write = time.monotonic()
                    self._cond.notify_all()


def write_mark(folder: str | Path, owner: str, seq: int) -> None:
    """Record that ``owner`` has a durable snapshot of step ``seq`` (journal release)."""
    path = Path(folder) / f"{owner}.mark"
    temporary = path.with_suffix(".mark.tmp")
    temporary.write_text(f"{int(seq)}\n")
    temporary.replace(path)


def read_mark(folder: str | Path, owner: str) -> int:
    """The step of ``owner``'s last durable snapshot (-1 if none)."""
    try:
        return int((Path(folder) / f"{owner}.mark").read_text().strip())
    except (OSError, ValueError):
        return -1
