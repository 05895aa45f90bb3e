"""Opening a SQLite file in WAL mode: the one recipe behind every store of the project."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from core.errors import EvotraderError

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another's lock before failing."""


def open_wal(path: Path, *, label: str, error: type[EvotraderError], synchronous: str,
             migrate: Callable[[sqlite3.Connection, Path], None],
             foreign_keys: bool = False) -> sqlite3.Connection:
    """Open (creating if missing) ``path`` in autocommit + WAL mode and let ``migrate`` check it.

    Args:
        path: The database file (its folder is created).
        label: What the file is, for messages (``"trial registry"``, ``"session store"``).
        error: The error type the caller's layer raises.
        synchronous: ``"NORMAL"`` or ``"FULL"``.
        migrate: Creates or checks the schema; may raise ``error``.
        foreign_keys: Enforce foreign keys.

    Raises:
        EvotraderError: ``error`` when SQLite cannot open the file, WAL cannot be enabled or
            the schema is refused (the connection is closed first).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    except (sqlite3.Error, OSError) as exc:
        raise error(f"cannot open the {label} {path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise error(f"{label} {path}: cannot switch to WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if foreign_keys:
            conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise error(f"{label} {path} is unusable: {exc}") from exc
    except error:
        conn.close()
        raise
    return conn
