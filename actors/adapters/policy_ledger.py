"""The policy ledger on SQLite (the store's file): one append-only table.

Each row is a :class:`~core.governance.ledger.LedgerEntry` as its canonical JSON with its hash.
Triggers refuse ``UPDATE`` and ``DELETE``; an append is checked against the tail in the same
transaction, so two writers never fork the chain. :meth:`PolicyLedger.verify` recomputes every
hash and link (:func:`~core.governance.ledger.verify_chain`) and names the first entry at
fault; the tail's hash is what an operator anchors elsewhere (a chain cannot prove its own
last entry).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from actors.adapters.sqlite_wal import open_wal
from core.errors import ConfigError, RegistryError
from core.governance.ledger import GENESIS, LedgerEntry, verify_chain

_DDL = (
    """CREATE TABLE IF NOT EXISTS policy_ledger (
        seq  INTEGER PRIMARY KEY,
        hash TEXT    NOT NULL UNIQUE,
        body TEXT    NOT NULL
    )""",
    """CREATE TRIGGER IF NOT EXISTS policy_ledger_no_update BEFORE UPDATE ON policy_ledger
    BEGIN SELECT RAISE(ABORT, 'the policy ledger is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS policy_ledger_no_delete BEFORE DELETE ON policy_ledger
    BEGIN SELECT RAISE(ABORT, 'the policy ledger is append-only'); END""",
)


class LedgerError(RegistryError):
    """The ledger cannot be read or written, or an append does not follow its tail."""


class PolicyLedger:
    """The policy ledger in ``path`` (created with its table when missing).

    Raises:
        LedgerError: The file cannot be opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = open_wal(self.path, label="policy ledger", error=LedgerError,
                              synchronous="FULL", migrate=_create)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> PolicyLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def entries(self) -> list[LedgerEntry]:
        """Every entry, in order.

        Raises:
            LedgerError: A row is not an entry (its message names the row).
        """
        return [entry for _, entry in self._rows()]

    def tail(self) -> LedgerEntry | None:
        """The last entry (None: empty)."""
        row = self._read("SELECT body FROM policy_ledger ORDER BY seq DESC LIMIT 1")
        return _entry(row[0][0], "last") if row else None

    def append(self, entry: LedgerEntry) -> None:
        """Add ``entry`` after the tail (fsynced before this returns).

        Raises:
            LedgerError: ``entry`` does not follow the tail (another writer came first), or
                the write failed.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT seq, hash FROM policy_ledger ORDER BY seq DESC LIMIT 1").fetchone()
                seq, tail_hash = (row[0], row[1]) if row else (0, GENESIS)
                if entry.seq != seq + 1 or entry.prev_hash != tail_hash:
                    raise LedgerError(
                        f"ledger entry {entry.seq} does not follow the tail (entry {seq}) of "
                        f"{self.path}: another decision was recorded meanwhile; read it and "
                        "decide again")
                self._conn.execute("INSERT INTO policy_ledger (seq, hash, body) VALUES (?, ?, ?)",
                                   (entry.seq, entry.hash, entry.canonical_json()))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot append to the policy ledger {self.path}: {exc}") from exc

    def verify(self) -> list[str]:
        """Every break of the ledger, each naming its entry; [] when it verifies."""
        problems: list[str] = []
        entries: list[LedgerEntry] = []
        for stored_hash, entry in self._rows(lenient=problems):
            if entry.hash != stored_hash:
                problems.append(f"entry {entry.seq}: its content does not match its stored "
                                "hash (the entry was altered)")
            entries.append(entry)
        return problems + verify_chain(entries)

    def _rows(self, lenient: list[str] | None = None) -> list[tuple[str, LedgerEntry]]:
        out = []
        for seq, stored_hash, body in self._read(
                "SELECT seq, hash, body FROM policy_ledger ORDER BY seq"):
            try:
                out.append((stored_hash, _entry(body, str(seq))))
            except LedgerError as exc:
                if lenient is None:
                    raise
                lenient.append(str(exc))
        return out

    def _read(self, sql: str) -> list[tuple]:
        try:
            return self._conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read the policy ledger {self.path}: {exc}") from exc


def _entry(body: str, which: str) -> LedgerEntry:
    try:
        return LedgerEntry.from_json(body)
    except ConfigError as exc:
        raise LedgerError(f"entry {which}: cannot be read: {exc}") from exc


def _create(conn: sqlite3.Connection, path: Path) -> None:
    try:
        for statement in _DDL:
            conn.execute(statement)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot create the policy ledger in {path}: {exc}") from exc
