"""Schema of the trial registry (SQLite): tables, triggers, version, opening, row records.

Tables:

* ``trials`` — one row per ``(layer, hash)``: every evaluated expression, recorded once.
* ``transitions`` — the alpha lifecycle as an append-only ledger (``seq`` orders it).
* ``checkpoints`` — the engine's state (archive, population, random state) per generation.
* ``runs`` — each discovery run's policy template (schema 2): what its genomes were scored
  with, so a trial's policy can be rebuilt exactly (:class:`~core.governance.policy.
  PolicyTemplate`).

``UPDATE``/``DELETE`` on ``trials`` and ``transitions`` are refused by triggers, so the ledger
can only grow. The database runs in WAL mode (readers never block the writer or each other).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from actors.adapters.sqlite_wal import open_wal
from core.errors import RegistryError

SCHEMA_VERSION = 2
"""1: trials, transitions, checkpoints; 2: + runs (a version-1 file is upgraded on open)."""


_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    layer      TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    seq        INTEGER NOT NULL UNIQUE,
    run_id     TEXT    NOT NULL,
    genome_id  INTEGER NOT NULL,
    text       TEXT    NOT NULL,
    parents    TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    operator   TEXT    NOT NULL,
    ok         INTEGER NOT NULL,
    objective  REAL,
    measures   TEXT    NOT NULL,
    metrics    TEXT    NOT NULL,
    folds      TEXT    NOT NULL,
    error      TEXT,
    PRIMARY KEY (layer, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transitions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    layer       TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    at          INTEGER,
    FOREIGN KEY (layer, hash) REFERENCES trials (layer, hash)
);
CREATE INDEX IF NOT EXISTS transitions_by_trial ON transitions (layer, hash, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id     TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    payload    BLOB    NOT NULL,
    config     TEXT    NOT NULL,
    PRIMARY KEY (run_id, generation)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id   TEXT NOT NULL PRIMARY KEY,
    layer    TEXT NOT NULL,
    template TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS runs_no_update BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'a run is recorded once and never changed'); END;
CREATE TRIGGER IF NOT EXISTS trials_no_update BEFORE UPDATE ON trials
BEGIN SELECT RAISE(ABORT, 'trials are recorded once and never changed'); END;
CREATE TRIGGER IF NOT EXISTS trials_no_delete BEFORE DELETE ON trials
BEGIN SELECT RAISE(ABORT, 'trials are recorded once and never deleted'); END;
CREATE TRIGGER IF NOT EXISTS transitions_no_update BEFORE UPDATE ON transitions
BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS transitions_no_delete BEFORE DELETE ON transitions
BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
"""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if missing) the registry at ``path`` in WAL mode, schema checked.

    The connection is in autocommit mode; callers group writes with explicit
    ``BEGIN IMMEDIATE`` / ``COMMIT``.

    Raises:
        RegistryError: The file is not a registry SQLite can open, or it was written by a
            newer schema version.
    """
    return open_wal(path, label="trial registry", error=RegistryError, synchronous="NORMAL",
                    migrate=_migrate, foreign_keys=True)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema if missing and check its version.

    An up-to-date database is only read, so opening it never waits for a busy writer.
    """
    try:
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.OperationalError:  # no such table: a new database
        row = None
    if row is not None and row[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(_DDL):
            conn.execute(statement)
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise RegistryError(
                f"trial registry {path} has schema version {row[0]}, newer than this "
                f"evotrader's ({SCHEMA_VERSION}); upgrade evotrader"
            )
        elif row[0] < SCHEMA_VERSION:  # the new tables were just created: upgraded
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split the DDL script into complete statements (triggers hold inner semicolons)."""
    statements, buffer = [], ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


TRIAL_COLUMNS = ("layer, hash, seq, run_id, genome_id, text, parents, generation, operator, "
                 "ok, objective, measures, metrics, folds, error")


@dataclass(frozen=True)
class TrialRecord:
    """One recorded trial (see the ``trials`` table); ``seq`` is its recording order."""

    layer: str
    hash: str
    seq: int
    run_id: str
    genome_id: int
    text: str
    parents: tuple[int, ...]
    generation: int
    operator: str
    ok: bool
    objective: float
    measures: tuple[float, ...]
    metrics: dict[str, float]
    folds: tuple[dict[str, float], ...]
    error: str | None


@dataclass(frozen=True)
class Transition:
    """One lifecycle ledger entry (``from_status`` is None for the birth)."""

    seq: int
    layer: str
    hash: str
    from_status: str | None
    to_status: str
    reason: str
    at: int | None


class Checkpoint(NamedTuple):
    """The newest checkpoint of a run: ``(generation, payload, config_json)``."""

    generation: int
    payload: bytes
    config_json: str


def trial_record(row: tuple[Any, ...]) -> TrialRecord:
    """Decode a ``trials`` row selected with :data:`TRIAL_COLUMNS`."""
    (layer, hash_, seq, run_id, genome_id, text, parents, generation, operator, ok,
     objective, measures, metrics, folds, error) = row
    return TrialRecord(
        layer=layer, hash=hash_, seq=seq, run_id=run_id, genome_id=genome_id, text=text,
        parents=tuple(json.loads(parents)), generation=generation, operator=operator,
        ok=bool(ok), objective=float("nan") if objective is None else float(objective),
        measures=tuple(json.loads(measures)), metrics=json.loads(metrics),
        folds=tuple(json.loads(folds)), error=error)
