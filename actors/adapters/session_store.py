"""Session store on SQLite: everything a trading session records, idempotently.

One file holds one session: its ``sessions`` row, then, per book (``"live"`` or
``"candidate:<name>"``), the signals, order requests, risk decisions, order updates, current
orders, fills, open positions, equity per bar, risk events, diary and latency samples, plus the
supervision record (supervisor events, restarts). See :mod:`actors.adapters.session_schema` for
the tables and their keys.

Idempotency: :meth:`SessionStore.append_batch` writes one batch ``seq`` of one book in ONE
transaction, and every row has a deterministic primary key written with
``INSERT ... ON CONFLICT DO NOTHING`` (or a guarded upsert for the current-state tables
``orders``, ``positions``, ``portfolio``): appending the same batch again changes nothing and
returns 0. (Not ``INSERT OR IGNORE``, which would also silently drop a row breaking a
``NOT NULL`` constraint, e.g. a NaN price, which SQLite binds as NULL; such a batch fails.)

Durability: WAL journal (readers in other processes never block the writer) with
``synchronous = FULL``. In WAL mode NORMAL already survives a killed process (a committed
transaction is in the WAL, which the OS keeps), but a power cut or kernel crash may lose the
last commits; FULL syncs the WAL at every commit so a batch acknowledged to the driver is on
disk. That costs one fsync per batch: per many bars in SIM, per bar in PAPER/LIVE, which is
negligible, and the store is what the executor and the candidates are rebuilt from.

SQLite errors surface as :class:`StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from actors.adapters.session_batches import (
    BatchRecords,
    StoreError,
    append_checked,
    check_batch,
)
from actors.adapters.session_schema import (
    BOOK_TABLES,
    MESSAGE_TABLES,
    ORDER_COLUMNS,
    POSITION_COLUMNS,
    SCHEMA_VERSION,
    TABLES,
    UPDATE_ORDER,
    LatencySample,
    OrderRow,
    PortfolioRow,
    PositionRow,
    Restart,
    SessionRow,
    SupervisorEvent,
    column_mismatches,
    columns,
    decode,
    order_row,
    plain,
    schema_statements,
)
from actors.adapters.sqlite_wal import open_wal
from core.trading.messages import (
    DiaryEntry,
    Fill,
    OrderRequest,
    OrderUpdate,
    PositionSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
)

__all__ = ["NO_SEQ", "BatchRecords", "LatencySample", "OrderRow", "PortfolioRow",
           "PositionRow", "Restart", "SessionRow", "SessionStore", "StoreError",
           "SupervisorEvent"]

NO_SEQ = -1
"""What :meth:`SessionStore.last_seq` returns for a book without batches."""


class SessionStore:
    """The session store in one SQLite file (WAL, ``synchronous = FULL``; see module doc).

    One instance may be shared by threads (calls are serialised); other processes may open
    their own instance on the same file to read.

    Args:
        path: The database file; created with its schema when missing.

    Raises:
        StoreError: The file cannot be opened, is not a session store, or has a newer schema.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = _open(self.path)

    def close(self) -> None:
        """Close the connection; later calls raise :class:`StoreError`. Idempotent."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions --------------------------------------------------------------------------

    def open_session(self, session_id: str, *, config_id: str, created_ts: int,
                     info: Mapping[str, Any] | None = None, status: str = "running") -> bool:
        """Record the session once (a second call with the same id changes nothing).

        Args:
            session_id: Session identifier.
            config_id: Hash or name of the runtime config.
            created_ts: Creation time (ms UTC) from the caller's clock.
            info: JSON-serialisable creation info (mode, host, versions, ...).
            status: Initial status.

        Returns:
            True if recorded now, False if the session was already recorded.

        Raises:
            StoreError: ``info`` is not JSON-serialisable, or the write failed.
        """
        try:
            text = json.dumps(dict(info or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"session {session_id!r}: info is not JSON: {exc}") from exc
        with self._write(f"open session {session_id}") as conn:
            cursor = conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?) "
                                  "ON CONFLICT DO NOTHING",
                                  (session_id, config_id, int(created_ts), text, status,
                                   int(created_ts)))
        return cursor.rowcount == 1

    def set_status(self, session_id: str, status: str, *, ts: int) -> None:
        """Set the status of a recorded session (``"running"``, ``"stopped"``, ...).

        Raises:
            StoreError: The session is unknown, or the write failed.
        """
        with self._write(f"set status of session {session_id}") as conn:
            cursor = conn.execute("UPDATE sessions SET status = ?, status_ts = ? "
                                  "WHERE session_id = ?", (status, int(ts), session_id))
            if cursor.rowcount != 1:
                raise StoreError(f"session store {self.path}: no session {session_id!r}")

    def sessions(self) -> list[SessionRow]:
        """Every recorded session, oldest first."""
        rows = self._read("SELECT session_id, config_id, created_ts, info, status, status_ts "
                          "FROM sessions ORDER BY created_ts, session_id", ())
        return [SessionRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    # -- writes ----------------------------------------------------------------------------

    def append_batch(self, seq: int, records: BatchRecords) -> int:
        """Write batch ``seq`` of ``records.book`` in one transaction, idempotently.

        Args:
            seq: Batch number of the book (0, 1, ...).
            records: What the book produced in that batch.

        Returns:
            Rows inserted or changed: 0 when the same batch was already written.

        Raises:
            StoreError: Invalid records (wrong type, NaN equity, mismatched arrays) or a
                failed write (nothing of the batch is then written).
        """
        return self.append_many([(seq, records)])

    def append_many(self, batches: Sequence[tuple[int, BatchRecords]]) -> int:
        """Write several ``(seq, records)`` batches (any books) in ONE transaction.

        Each batch is written exactly as :meth:`append_batch` writes it, in order; a batch
        already written changes nothing. One commit (one fsync) for all of them: writers
        that produce many small batches (paced steps) send them together.

        Returns:
            Rows inserted or changed.

        Raises:
            StoreError: Invalid records or a failed write (nothing is then written).
        """
        checked = [(int(seq), records, check_batch(seq, records)) for seq, records in batches]
        if not checked:
            return 0
        with self._write(f"append {len(checked)} batch(es)") as conn:
            before = conn.total_changes
            for seq, records, equity in checked:
                append_checked(conn, seq, records, equity)
            return conn.total_changes - before

    def append_latencies(self, book: str, samples: Sequence[tuple[int, Sequence[LatencySample]]]
                         ) -> int:
        """Record per-step latency samples ``(seq, samples)`` of ``book`` (idempotent).

        Returns:
            Rows inserted (0 for a retry).

        Raises:
            StoreError: The write failed.
        """
        rows = [(book, int(seq), i, s.stage, plain(s.ms))
                for seq, step in samples for i, s in enumerate(step)]
        with self._write(f"append latencies of book {book!r}") as conn:
            before = conn.total_changes
            conn.executemany("INSERT INTO latencies VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT DO NOTHING", rows)
            return conn.total_changes - before

    def append_supervision(self, events: Sequence[SupervisorEvent] = (),
                           restarts: Sequence[Restart] = ()) -> int:
        """Record supervisor events and restarts (one transaction, idempotent by their keys).

        Returns:
            Rows inserted (0 for a retry).

        Raises:
            StoreError: The write failed.
        """
        with self._write("append supervision records") as conn:
            before = conn.total_changes
            conn.executemany("INSERT INTO supervisor_events VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT DO NOTHING",
                             [(plain(e.ts), e.supervisor, e.child, e.kind, e.detail)
                              for e in events])
            conn.executemany("INSERT INTO restarts VALUES (?, ?, ?, ?) "
                             "ON CONFLICT DO NOTHING",
                             [(r.actor, plain(r.attempt), plain(r.ts), r.reason)
                              for r in restarts])
            return conn.total_changes - before

    def checkpoint(self) -> None:
        """Copy the WAL into the main file and truncate it (a fast, self-contained file).

        Raises:
            StoreError: The checkpoint failed.
        """
        with self._lock, self._guard("checkpoint the WAL"):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # -- reads -----------------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Make the reads inside the block see one consistent state of the file.

        A read transaction: batches committed meanwhile (by this or another process) are
        not seen until the block ends, so an export never mixes two states. Writes through
        this instance must not happen inside the block.

        Raises:
            StoreError: The read transaction cannot begin.
        """
        with self._lock:
            with self._guard("begin a read snapshot"):
                self._conn.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                if self._conn.in_transaction:
                    with self._guard("end a read snapshot"):
                        self._conn.execute("COMMIT")

    def last_seq(self, book: str = "live") -> int:
        """Highest batch number written for ``book``, or :data:`NO_SEQ` (-1) if none."""
        row = self._read("SELECT MAX(seq) FROM batches WHERE book = ?", (book,))[0]
        return NO_SEQ if row[0] is None else int(row[0])

    def books(self) -> list[str]:
        """Books with at least one batch, sorted."""
        return [r[0] for r in self._read("SELECT DISTINCT book FROM batches ORDER BY book", ())]

    def counts(self, book: str | None = None) -> dict[str, int]:
        """Rows per table (of ``book`` only for the book tables, when given)."""
        out = {}
        for table in TABLES:
            if book is not None and table in BOOK_TABLES:
                row = self._read(f"SELECT COUNT(*) FROM {table} WHERE book = ?", (book,))
            else:
                row = self._read(f"SELECT COUNT(*) FROM {table}", ())
            out[table] = int(row[0][0])
        return out

    def signals(self, book: str = "live") -> list[Signal]:
        """Signals of ``book`` by (ts, strategy, symbol, tag)."""
        return self._messages("signals", book, "ts, strategy_id, symbol, tag")

    def order_requests(self, book: str = "live") -> list[OrderRequest]:
        """Order requests of ``book`` by (ts, client_order_id)."""
        return self._messages("order_requests", book, "ts, client_order_id")

    def risk_decisions(self, book: str = "live") -> list[RiskDecision]:
        """Risk verdicts of ``book`` by (ts, client_order_id)."""
        return self._messages("risk_decisions", book, "ts, client_order_id")

    def order_updates(self, book: str = "live") -> list[OrderUpdate]:
        """Order transitions of ``book`` by (ts, client_order_id, filled, status rank)."""
        return self._messages("order_updates", book, UPDATE_ORDER)

    def fills(self, book: str = "live") -> list[Fill]:
        """Fills of ``book`` by (ts, client_order_id, n)."""
        return self._messages("fills", book, "ts, client_order_id, n")

    def risk_events(self, book: str = "live") -> list[RiskEvent]:
        """Risk events of ``book`` by (ts, seq, idx)."""
        return self._messages("risk_events", book, "ts, seq, idx")

    def diary(self, book: str = "live") -> list[DiaryEntry]:
        """Diary entries of ``book`` by (ts, seq, idx)."""
        return self._messages("diary", book, "ts, seq, idx")

    def orders(self, book: str = "live") -> list[OrderRow]:
        """Current state of every order of ``book`` by (ts, client_order_id)."""
        rows = self._read(f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE book = ? "
                          "ORDER BY ts, client_order_id", (book,))
        return [order_row(r) for r in rows]

    def positions(self, book: str = "live") -> list[PositionRow]:
        """Open positions of the latest portfolio snapshot of ``book`` by (symbol, tag)."""
        rows = self._read(f"SELECT ts, {', '.join(POSITION_COLUMNS)} FROM positions "
                          "WHERE book = ? ORDER BY symbol, tag", (book,))
        return [PositionRow(r[0], decode(PositionSnapshot, r[1:])) for r in rows]

    def portfolio(self, book: str = "live") -> list[PortfolioRow]:
        """Equity (and cash, gross exposure where recorded) of ``book`` per bar, by ts."""
        rows = self._read("SELECT ts, cash, equity, gross_exposure FROM portfolio "
                          "WHERE book = ? ORDER BY ts", (book,))
        return [PortfolioRow(*r) for r in rows]

    def equity(self, book: str = "live") -> tuple[np.ndarray, np.ndarray]:
        """``(ts, equity)`` arrays of ``book`` (int64, float64), by ts."""
        rows = self.portfolio(book)
        return (np.array([r.ts for r in rows], dtype=np.int64),
                np.array([r.equity for r in rows], dtype=np.float64))

    def latencies(self, book: str = "live") -> list[LatencySample]:
        """Latency samples of ``book`` in recording order (seq, idx)."""
        rows = self._read("SELECT stage, ms FROM latencies WHERE book = ? ORDER BY seq, idx",
                          (book,))
        return [LatencySample(*r) for r in rows]

    def supervisor_events(self) -> list[SupervisorEvent]:
        """Supervisor events by (ts, supervisor, child, kind)."""
        rows = self._read("SELECT ts, supervisor, child, kind, detail FROM supervisor_events "
                          "ORDER BY ts, supervisor, child, kind", ())
        return [SupervisorEvent(*r) for r in rows]

    def restarts(self) -> list[Restart]:
        """Restarts by (ts, actor, attempt)."""
        rows = self._read("SELECT actor, attempt, ts, reason FROM restarts "
                          "ORDER BY ts, actor, attempt", ())
        return [Restart(*r) for r in rows]

    # -- plumbing --------------------------------------------------------------------------

    def _messages(self, table: str, book: str, order: str) -> list[Any]:
        message_type = MESSAGE_TABLES[table]
        rows = self._read(f"SELECT {', '.join(columns(message_type))} FROM {table} "
                          f"WHERE book = ? ORDER BY {order}", (book,))
        return [decode(message_type, r) for r in rows]

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock, self._guard("read"):
            return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` .. ``COMMIT`` transaction, rolled back on any error."""
        with self._lock, self._guard(what):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Translate sqlite3 errors into :class:`StoreError` naming the file and action."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"session store {self.path}: {what} failed: {exc}") from exc


def _open(path: Path) -> sqlite3.Connection:
    """Open (creating if missing) the store at ``path``: WAL, ``synchronous = FULL``, schema.

    Raises:
        StoreError: Not a session store, newer schema, or SQLite cannot open it.
    """
    return open_wal(path, label="session store", error=StoreError, synchronous="FULL",
                    migrate=_migrate)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new file; check the version (``user_version``) of an old one."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        problems = column_mismatches(conn)
        if problems:
            raise StoreError(f"session store {path} was written with other message fields "
                             f"(same schema version {SCHEMA_VERSION}): {'; '.join(problems)}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"session store {path} has schema version {version}, newer than "
                             f"this evotrader's ({SCHEMA_VERSION}); upgrade evotrader")
        if version == 0:
            if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(f"{path} is an SQLite file but not a session store")
            for statement in schema_statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
