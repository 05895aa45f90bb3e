"""Trial registry on SQLite: every evaluated expression once, the alpha lifecycle, checkpoints.

* Trials are keyed by ``(layer, structural hash)``: an expression evaluated again in the same
  layer is not recorded again, so :meth:`TrialRegistry.count_trials` is the true number of
  distinct trials that the deflated Sharpe ratio and the FDR must account for.
* Lifecycle: the rules of :mod:`core.governance.lifecycle` (``born -> validated ->
  candidate -> active``, an active one back to ``candidate``, ``retired`` from any live
  state). Every change is a new row of the ``transitions`` ledger; nothing is overwritten.
  Times (``at``) are integers supplied by the caller's clock; the registry never reads one.
* Checkpoints hold the engine's state (archive, population, random state) per generation.

Writes are transactions: group a generation's trials and its checkpoint in
:meth:`TrialRegistry.transaction` and a crash in the middle leaves the previous generation's
state intact. SQLite errors surface as :class:`RegistryError`.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from actors.adapters.sqlite_schema import (
    TRIAL_COLUMNS,
    Checkpoint,
    Transition,
    TrialRecord,
    open_database,
    trial_record,
)
from core.errors import ConfigError, LifecycleError, RegistryError
from core.evolution.genome import Candidate, Evaluation
from core.governance.lifecycle import LIFECYCLE, check_move, parse_status
from core.governance.policy import PolicySpec, PolicyTemplate

__all__ = ["LIFECYCLE", "Checkpoint", "LifecycleError", "RegistryError", "Transition",
           "TrialRecord", "TrialRegistry"]



class TrialRegistry:
    """The trial registry in one SQLite file (WAL mode; readers never block the writer).

    One instance may be shared by threads (calls are serialised); other processes open their
    own instance on the same file.

    Args:
        path: The database file; created with its schema when missing.

    Raises:
        RegistryError: The file cannot be opened or has a newer schema.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = open_database(self.path)
        self._lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by SQLite)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> TrialRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes atomically; nested ``transaction()`` blocks join the outer one.

        Raises:
            RegistryError: The database refused to begin or commit.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._guard("begin a transaction"):
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            with self._guard("commit"):
                self._conn.execute("COMMIT")

    def record(self, candidate: Candidate, evaluation: Evaluation, *, layer: str, run_id: str,
               at: int | None = None) -> bool:
        """Record an evaluated candidate as a ``born`` trial, once per ``(layer, hash)``.

        Args:
            candidate: What was asked.
            evaluation: Its result (same ``genome_id``).
            layer: Search layer name.
            run_id: The run that evaluated it.
            at: Caller's clock time of the birth, if any.

        Returns:
            True if recorded now, False if that hash was already recorded in that layer.

        Raises:
            RegistryError: The evaluation belongs to another genome, or the write failed.
        """
        if evaluation.genome_id != candidate.genome_id:
            raise RegistryError(f"evaluation of genome {evaluation.genome_id} recorded for "
                                f"candidate {candidate.genome_id} ({candidate.text})")
        objective = evaluation.objective if math.isfinite(evaluation.objective) else None
        with self.transaction(), self._guard(f"record trial {candidate.hash}"):
            if self._conn.execute("SELECT 1 FROM trials WHERE layer = ? AND hash = ?",
                                  (layer, candidate.hash)).fetchone():
                return False
            seq = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM trials").fetchone()[0]
            self._conn.execute(
                f"INSERT INTO trials ({TRIAL_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (layer, candidate.hash, seq, run_id, candidate.genome_id, candidate.text,
                 json.dumps(list(candidate.parents)), candidate.generation, candidate.operator,
                 int(evaluation.ok), objective, json.dumps(list(evaluation.measures)),
                 json.dumps(evaluation.metrics), json.dumps(list(evaluation.folds)),
                 evaluation.error),
            )
            self._append(layer, candidate.hash, None, "born", "recorded", at)
        return True

    def trials(self, layer: str) -> list[TrialRecord]:
        """Every trial of ``layer``, in recording order (for the gates of a search)."""
        with self._guard(f"list trials of {layer}"):
            rows = self._conn.execute(
                f"SELECT {TRIAL_COLUMNS} FROM trials WHERE layer = ? ORDER BY seq", (layer,)
            ).fetchall()
        return [trial_record(row) for row in rows]

    def standing(self, statuses: Collection[str]) -> list[tuple[TrialRecord, str]]:
        """Trials whose current status is one of ``statuses``, with it, in recording order."""
        wanted = [parse_status(s).value for s in statuses]
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        columns = ", ".join(f"t.{c.strip()}" for c in TRIAL_COLUMNS.split(","))
        with self._lock, self._guard("list trials by status"):
            rows = self._conn.execute(
                f"SELECT {columns}, s.to_status FROM trials t JOIN transitions s "
                "ON s.layer = t.layer AND s.hash = t.hash WHERE s.seq = (SELECT MAX(seq) FROM "
                "transitions WHERE layer = t.layer AND hash = t.hash) "
                f"AND s.to_status IN ({marks}) ORDER BY t.seq", wanted).fetchall()
        return [(trial_record(row[:-1]), str(row[-1])) for row in rows]

    def find(self, prefix: str) -> list[TrialRecord]:
        """Trials (any layer) whose hash starts with ``prefix``, in recording order."""
        with self._lock, self._guard(f"find trial {prefix}"):
            rows = self._conn.execute(
                f"SELECT {TRIAL_COLUMNS} FROM trials WHERE substr(hash, 1, ?) = ? ORDER BY seq",
                (len(prefix), prefix)).fetchall()
        return [trial_record(row) for row in rows]

    def by_text(self, text: str) -> list[TrialRecord]:
        """Trials (any layer) of the expression printed as ``text``, in recording order."""
        with self._lock, self._guard("find trials by expression"):
            rows = self._conn.execute(
                f"SELECT {TRIAL_COLUMNS} FROM trials WHERE text = ? ORDER BY seq",
                (text,)).fetchall()
        return [trial_record(row) for row in rows]

    def latest_run(self, layer: str | None = None) -> str | None:
        """The run that recorded the last trial (of ``layer``), None if none did."""
        where, args = ("WHERE layer = ?", (layer,)) if layer is not None else ("", ())
        with self._lock, self._guard("find the latest run"):
            row = self._conn.execute(f"SELECT run_id FROM trials {where} ORDER BY seq DESC "
                                     "LIMIT 1", args).fetchone()
        return None if row is None else str(row[0])

    def count_trials(self, layer: str) -> int:
        """Distinct expressions recorded in ``layer`` (failures included)."""
        with self._lock, self._guard("count trials"):
            row = self._conn.execute("SELECT COUNT(*) FROM trials WHERE layer = ?", (layer,))
            return int(row.fetchone()[0])

    def trial(self, hash: str, layer: str) -> TrialRecord | None:
        """The recorded trial, or None if that hash was never recorded in ``layer``."""
        with self._lock, self._guard(f"read trial {hash}"):
            row = self._conn.execute(f"SELECT {TRIAL_COLUMNS} FROM trials "
                                     "WHERE layer = ? AND hash = ?", (layer, hash)).fetchone()
        return None if row is None else trial_record(row)

    def status(self, hash: str, layer: str) -> str:
        """Current lifecycle status of a trial (its last transition).

        Raises:
            RegistryError: The trial is unknown in that layer.
        """
        return self._last(hash, layer).to_status

    def history(self, hash: str, layer: str) -> list[Transition]:
        """Every lifecycle transition of a trial, oldest first (empty if unknown)."""
        with self._lock, self._guard(f"read the history of {hash}"):
            rows = self._conn.execute(
                "SELECT seq, layer, hash, from_status, to_status, reason, at FROM transitions "
                "WHERE layer = ? AND hash = ? ORDER BY seq", (layer, hash)).fetchall()
        return [Transition(*row) for row in rows]

    def transition(self, hash: str, layer: str, to_status: str, *, reason: str,
                   at: int | None) -> Transition:
        """Move a trial along the lifecycle; the move is appended to the ledger.

        Raises:
            LifecycleError: :func:`core.governance.lifecycle.check_move` refuses the move.
            RegistryError: The trial is unknown, or the write failed.
        """
        parse_status(to_status)
        with self.transaction():
            current = self._last(hash, layer).to_status
            check_move(f"trial {hash} in layer {layer!r}", current, to_status)
            seq = self._append(layer, hash, current, to_status, reason, at)
        return Transition(seq, layer, hash, current, to_status, reason, at)

    def record_run(self, run_id: str, layer: str, template: PolicyTemplate) -> None:
        """Record what run ``run_id`` scores its genomes with (once; a resume must agree).

        Raises:
            RegistryError: The run was recorded with another template, or the write failed.
        """
        text = template.to_json()
        with self.transaction(), self._guard(f"record run {run_id}"):
            row = self._conn.execute("SELECT layer, template FROM runs WHERE run_id = ?",
                                     (run_id,)).fetchone()
            if row is None:
                self._conn.execute("INSERT INTO runs VALUES (?, ?, ?)", (run_id, layer, text))
            elif (row[0], row[1]) != (layer, text):
                raise RegistryError(
                    f"run {run_id!r} was recorded in layer {row[0]!r} with another policy "
                    "template (symbols, timeframe, window, mapping, costs, risk, seed, config or "
                    "code version): resume it with its own settings and code, or start a new "
                    "run")

    def run_template(self, run_id: str) -> PolicyTemplate | None:
        """The template run ``run_id`` recorded (None: none, e.g. a run of schema 1)."""
        with self._lock, self._guard(f"read run {run_id}"):
            row = self._conn.execute("SELECT template FROM runs WHERE run_id = ?",
                                     (run_id,)).fetchone()
        if row is None:
            return None
        try:
            return PolicyTemplate.from_json(row[0])
        except ConfigError as exc:
            raise RegistryError(f"run {run_id!r}: {exc}") from exc

    def policy(self, hash: str, layer: str) -> PolicySpec:
        """The policy of a trial: its expression under its run's template.

        Raises:
            RegistryError: The trial is unknown, or its run recorded no template.
        """
        trial = self.trial(hash, layer)
        if trial is None:
            raise RegistryError(f"no trial {hash} recorded in layer {layer!r}")
        template = self.run_template(trial.run_id)
        if template is None:
            raise RegistryError(f"trial {hash}'s run {trial.run_id!r} recorded no policy "
                                "template (a run older than registry schema 2): validate the "
                                "expression again in a new run")
        return template.complete(trial.text)

    def save_checkpoint(self, run_id: str, generation: int, payload: bytes,
                        config_json: str) -> None:
        """Store the engine state after ``generation`` (replacing a save of the same one).

        Raises:
            RegistryError: ``config_json`` is not JSON, or the write failed.
        """
        try:
            json.loads(config_json)
        except ValueError as exc:
            raise RegistryError(f"checkpoint config of run {run_id!r} is not JSON: {exc}") from exc
        with self.transaction(), self._guard(f"save checkpoint {run_id}/{generation}"):
            self._conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?)",
                               (run_id, generation, bytes(payload), config_json))

    def latest_checkpoint(self, run_id: str) -> Checkpoint | None:
        """The newest checkpoint of ``run_id``, or None if it has none."""
        with self._lock, self._guard(f"read checkpoint of {run_id}"):
            row = self._conn.execute(
                "SELECT generation, payload, config FROM checkpoints WHERE run_id = ? "
                "ORDER BY generation DESC LIMIT 1", (run_id,)).fetchone()
        return None if row is None else Checkpoint(int(row[0]), bytes(row[1]), str(row[2]))

    def _last(self, hash: str, layer: str) -> Transition:
        history = self.history(hash, layer)
        if not history:
            raise RegistryError(f"no trial {hash} recorded in layer {layer!r}")
        return history[-1]

    def _append(self, layer: str, hash: str, from_status: str | None, to_status: str,
                reason: str, at: int | None) -> int:
        with self._guard(f"append transition of {hash}"):
            cursor = self._conn.execute(
                "INSERT INTO transitions (layer, hash, from_status, to_status, reason, at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (layer, hash, from_status, to_status, reason, at))
        return int(cursor.lastrowid or 0)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Translate sqlite3 errors into :class:`RegistryError` naming the file and action."""
        try:
            yield
        except sqlite3.Error as exc:
            raise RegistryError(f"trial registry {self.path}: {what} failed: {exc}") from exc

