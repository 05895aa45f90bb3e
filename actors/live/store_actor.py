"""The store actor: a thin Ray shell over :class:`~actors.adapters.session_store.SessionStore`.

:class:`StoreService` is a plain class (usable in-process and in tests);
:data:`~actors.live.shells.StoreActor` is it as a Ray actor class reserving no CPU (the store
is I/O-bound). The service owns one
session file. A restart (supervisor or Ray) builds a new service on the same file: SQLite in
WAL mode with ``synchronous = FULL`` keeps every committed batch, and the new instance reads
the same state (``last_seq`` tells the driver where to resume).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actors.adapters.session_store import (
    BatchRecords,
    LatencySample,
    Restart,
    SessionStore,
    StoreError,
    SupervisorEvent,
)
from actors.live.session_files import build_summary, export_session, write_session_md

READERS = frozenset({
    "signals", "order_requests", "risk_decisions", "order_updates", "orders", "fills",
    "positions", "portfolio", "risk_events", "diary", "latencies",
})
"""Per-book readers reachable through :meth:`StoreService.read`."""


class StoreService:
    """Owner of the session store file; every method is one short call.

    Args:
        path: The session database file (created when missing).

    Raises:
        StoreError: The file cannot be opened.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._store: SessionStore | None = SessionStore(self.path)

    def ping(self) -> str:
        """Health check: ``"ok"`` while the store is open.

        Raises:
            StoreError: The service was stopped.
        """
        self._live()
        return "ok"

    def pid(self) -> int:
        """Process id of the process holding the store (for supervision and tests)."""
        return os.getpid()

    def append_batch(self, seq: int, records: BatchRecords) -> int:
        """See :meth:`SessionStore.append_batch`; returns rows written (0 for a retry)."""
        return self._live().append_batch(seq, records)

    def append_many(self, batches: Sequence[tuple[int, BatchRecords]]) -> int:
        """See :meth:`SessionStore.append_many`."""
        return self._live().append_many(batches)

    def append_latencies(self, book: str,
                         samples: Sequence[tuple[int, Sequence[LatencySample]]]) -> int:
        """See :meth:`SessionStore.append_latencies`."""
        return self._live().append_latencies(book, samples)

    def append_supervision(self, events: Sequence[SupervisorEvent] = (),
                           restarts: Sequence[Restart] = ()) -> int:
        """See :meth:`SessionStore.append_supervision`."""
        return self._live().append_supervision(events, restarts)

    def open_session(self, session_id: str, *, config_id: str, created_ts: int,
                     info: dict[str, Any] | None = None, status: str = "running") -> bool:
        """See :meth:`SessionStore.open_session`."""
        return self._live().open_session(session_id, config_id=config_id,
                                         created_ts=created_ts, info=info, status=status)

    def set_status(self, session_id: str, status: str, *, ts: int) -> None:
        """See :meth:`SessionStore.set_status`."""
        self._live().set_status(session_id, status, ts=ts)

    def last_seq(self, book: str = "live") -> int:
        """Highest batch written for ``book``, -1 if none."""
        return self._live().last_seq(book)

    def books(self) -> list[str]:
        """Books with at least one batch."""
        return self._live().books()

    def counts(self, book: str | None = None) -> dict[str, int]:
        """Rows per table (see :meth:`SessionStore.counts`)."""
        return self._live().counts(book)

    def read(self, table: str, book: str = "live") -> list[Any]:
        """Rows of one per-book reader of :class:`SessionStore` (names in :data:`READERS`).

        Raises:
            StoreError: Unknown reader, or the read failed.
        """
        if table not in READERS:
            raise StoreError(f"unknown session store reader {table!r}; "
                             f"expected one of {sorted(READERS)}")
        return getattr(self._live(), table)(book)

    def sessions(self) -> list[Any]:
        """Recorded sessions."""
        return self._live().sessions()

    def restarts(self) -> list[Restart]:
        """Recorded restarts."""
        return self._live().restarts()

    def supervisor_events(self) -> list[SupervisorEvent]:
        """Recorded supervisor events."""
        return self._live().supervisor_events()

    def export(self, folder: str | Path, book: str = "live") -> list[str]:
        """Write the deterministic session files of ``book`` (see :func:`export_session`)."""
        return [str(p) for p in export_session(self._live(), Path(folder), book)]

    def write_summary(self, folder: str | Path, session_id: str, book: str = "live", *,
                      initial_equity: float | None = None, info: dict[str, str] | None = None,
                      data: dict[str, str] | None = None) -> str:
        """Summarise ``book`` and write ``folder/session.md``; returns its path."""
        summary = build_summary(self._live(), session_id, book, initial_equity=initial_equity,
                                info=info, data=data)
        return str(write_session_md(Path(folder), summary))

    def flush(self) -> None:
        """Checkpoint the WAL into the main file (commits are already durable)."""
        self._live().checkpoint()

    def stop(self) -> None:
        """Close the store; later calls raise :class:`StoreError`. Idempotent."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def _live(self) -> SessionStore:
        if self._store is None:
            raise StoreError(f"the store actor of {self.path} was stopped")
        return self._store
