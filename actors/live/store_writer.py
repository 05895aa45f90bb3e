"""Records to the store off the acknowledgement path: batched, in order, confirmable.

An actor queues each step's :class:`~actors.adapters.session_store.BatchRecords`; a thread
sends what has accumulated to the store actor in one ``append_many`` call (one SQLite
transaction) every ``interval_s``, or at once when ``max_batches`` are waiting. The store
is idempotent, so a retry after a failure or a restart never writes twice.
:meth:`StoreWriter.confirm` blocks until every record up to a step is committed: an actor
snapshots a step only after that (its records are then never lost: a restart replays the
steps after its snapshot and sends their records again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from actors.adapters.session_store import BatchRecords
from actors.live.calls import ActorDirectory

DEFAULT_INTERVAL_S = 0.25
DEFAULT_MAX_BATCHES = 64


class StoreWriter:
    """A queue of step records flushed to the store actor by a background thread.

    Args:
        directory: Named-actor calls with retries.
        store_name: Ray name of the store actor.
        interval_s: Longest a record waits before it is sent.
        max_batches: Records that trigger a send at once.
        on_error: Called with an error of a send (it is retried).
    """

    def __init__(self, directory: ActorDirectory, store_name: str,
                 interval_s: float = DEFAULT_INTERVAL_S,
                 max_batches: int = DEFAULT_MAX_BATCHES,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self._directory, self._store = directory, store_name
        self.interval_s, self.max_batches = interval_s, max_batches
        self._on_error = on_error
        self._cond = threading.Condition()
        self._queue: list[tuple[int, BatchRecords]] = []
        self._confirmed = -1
        self._queued = -1
        self._urgent = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"store-writer-{store_name}",
                                        daemon=True)
        self._thread.start()

    @property
    def confirmed(self) -> int:
        """Highest step whose records (and all before) are committed."""
        return self._confirmed

    def put(self, seq: int, records: list[BatchRecords]) -> None:
        """Queue the records of step ``seq`` (steps are queued in order)."""
        with self._cond:
            self._queue.extend((seq, r) for r in records)
            self._queued = max(self._queued, seq)
            if len(self._queue) >= self.max_batches:
                self._cond.notify_all()

    def confirm(self, seq: int, timeout_s: float = 120.0) -> None:
        """Wait until every record of steps <= ``seq`` is committed.

        Raises:
            TimeoutError: The store did not take them in time.
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            while self._confirmed < min(seq, self._queued):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"store did not confirm step {seq} in {timeout_s:g} s")
                self._cond.wait(left)
            self._urgent = False

    def flush(self, timeout_s: float = 120.0) -> None:
        """Send everything queued and wait for it."""
        self.confirm(self._queued, timeout_s)

    def close(self, timeout_s: float = 120.0) -> None:
        """Flush, then stop the thread."""
        self.flush(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._urgent or self._closed
                                    or len(self._queue) >= self.max_batches,
                                    timeout=self.interval_s)
                if self._closed and not self._queue:
                    return
                batch, top = list(self._queue), self._queued
            if not batch:
                with self._cond:
                    self._confirmed = max(self._confirmed, top)
                    self._cond.notify_all()
                continue
            try:
                self._directory.call(self._store, "append_many", batch)
            except Exception as exc:  # noqa: BLE001 - retried at the next round
                if self._on_error is not None:
                    self._on_error(exc)
                time.sleep(self.interval_s)
                continue
            with self._cond:
                del self._queue[:len(batch)]
                done = batch[-1][0] if not self._queue else self._queue[0][0] - 1
                self._confirmed = max(self._confirmed, min(done, top))
                self._cond.notify_all()
