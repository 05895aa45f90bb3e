"""TrialRegistry on a real SQLite file: trials once, lifecycle ledger, checkpoints, WAL."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from actors.adapters.sqlite_registry import (
    Checkpoint,
    LifecycleError,
    RegistryError,
    TrialRegistry,
)
from actors.adapters.sqlite_schema import SCHEMA_VERSION
from core.errors import EvotraderError
from core.evolution.genome import Candidate, Evaluation, failure

REPO_ROOT = Path(__file__).resolve().parents[2]


def candidate(n: int, *, generation: int = 0, parents: tuple[int, ...] = ()) -> Candidate:
    from core.dsl import parse, structural_hash, to_text

    node = parse(f"(ts_mean close {n + 2})")
    return Candidate(genome_id=n, node=node, text=to_text(node), hash=structural_hash(node),
                     parents=parents, generation=generation, operator="random")


def evaluation(n: int) -> Evaluation:
    return Evaluation(genome_id=n, ok=True, objective=0.5 + n, measures=(1.0, 2.0, -0.25),
                      metrics={"sharpe": 1.25, "trades": 12.0},
                      folds=({"sharpe": 1.0, "bars": 100.0}, {"sharpe": 1.5, "bars": 100.0}))


@pytest.fixture
def registry(tmp_path):
    with TrialRegistry(tmp_path / "registry.sqlite") as reg:
        yield reg


def test_a_trial_is_recorded_once_per_layer(registry):
    first = candidate(1, generation=3, parents=(7, 9))
    assert registry.record(first, evaluation(1), layer="1h", run_id="r1", at=1000)
    again = Candidate(**{**first.__dict__, "genome_id": 44, "generation": 5})
    assert not registry.record(again, evaluation(44), layer="1h", run_id="r2")
    assert registry.record(first, evaluation(1), layer="5m", run_id="r1")
    assert registry.count_trials("1h") == 1 and registry.count_trials("5m") == 1
    assert registry.count_trials("1d") == 0
    stored = registry.trial(first.hash, "1h")
    assert (stored.genome_id, stored.run_id, stored.generation) == (1, "r1", 3)
    assert stored.text == first.text and stored.parents == (7, 9)
    assert stored.ok and stored.objective == 1.5 and stored.measures == (1.0, 2.0, -0.25)
    assert stored.metrics == {"sharpe": 1.25, "trades": 12.0}
    assert stored.folds == ({"sharpe": 1.0, "bars": 100.0}, {"sharpe": 1.5, "bars": 100.0})
    assert registry.trial("nope", "1h") is None


def test_failures_count_as_trials_and_keep_their_error(registry):
    for n in range(5):
        result = failure(n, "timeout after 1s") if n % 2 else evaluation(n)
        registry.record(candidate(n), result, layer="1h", run_id="r")
    assert registry.count_trials("1h") == 5
    stored = registry.trial(candidate(1).hash, "1h")
    assert not stored.ok and stored.error == "timeout after 1s"
    assert math.isnan(stored.objective) and all(math.isnan(m) for m in stored.measures)
    assert [registry.trial(candidate(n).hash, "1h").seq for n in range(5)] == [1, 2, 3, 4, 5]


def test_an_evaluation_of_another_genome_is_refused(registry):
    with pytest.raises(RegistryError, match="evaluation of genome 2"):
        registry.record(candidate(1), evaluation(2), layer="1h", run_id="r")


def test_the_lifecycle_moves_one_step_at_a_time(registry):
    c = candidate(1)
    registry.record(c, evaluation(1), layer="1h", run_id="r", at=10)
    assert registry.status(c.hash, "1h") == "born"
    for at, status in enumerate(["validated", "candidate", "active", "retired"], start=11):
        registry.transition(c.hash, "1h", status, reason=f"to {status}", at=at)
        assert registry.status(c.hash, "1h") == status
    history = registry.history(c.hash, "1h")
    assert [(t.from_status, t.to_status, t.at) for t in history] == [
        (None, "born", 10), ("born", "validated", 11), ("validated", "candidate", 12),
        ("candidate", "active", 13), ("active", "retired", 14)]
    assert [t.reason for t in history][1:] == [
        "to validated", "to candidate", "to active", "to retired"]
    assert [t.seq for t in history] == sorted(t.seq for t in history)


@pytest.mark.parametrize("path, bad", [
    ((), "active"), ((), "candidate"), (("validated",), "active"), (("validated",), "born"),
    (("validated", "candidate"), "validated"), (("retired",), "retired"),
    (("retired",), "validated"), ((), "promoted")])
def test_invalid_transitions_are_refused_and_change_nothing(registry, path, bad):
    c = candidate(1)
    registry.record(c, evaluation(1), layer="1h", run_id="r")
    for status in path:
        registry.transition(c.hash, "1h", status, reason="ok", at=1)
    before = registry.history(c.hash, "1h")
    with pytest.raises(LifecycleError) as caught:
        registry.transition(c.hash, "1h", bad, reason="bad", at=2)
    assert bad in str(caught.value)
    assert isinstance(caught.value, EvotraderError)
    assert registry.history(c.hash, "1h") == before


def test_retired_is_reachable_from_every_live_state(registry):
    for n, path in enumerate([(), ("validated",), ("validated", "candidate")]):
        c = candidate(n)
        registry.record(c, evaluation(n), layer="1h", run_id="r")
        for status in path:
            registry.transition(c.hash, "1h", status, reason="", at=0)
        registry.transition(c.hash, "1h", "retired", reason="kill", at=1)
        assert registry.status(c.hash, "1h") == "retired"


def test_unknown_trials_have_no_status(registry):
    with pytest.raises(RegistryError, match="no trial"):
        registry.status("deadbeef", "1h")
    with pytest.raises(RegistryError, match="no trial"):
        registry.transition("deadbeef", "1h", "validated", reason="", at=0)
    assert registry.history("deadbeef", "1h") == []


def test_the_ledger_is_append_only_even_in_raw_sql(registry):
    c = candidate(1)
    registry.record(c, evaluation(1), layer="1h", run_id="r")
    raw = sqlite3.connect(registry.path)
    try:
        for statement in ("UPDATE transitions SET to_status = 'active'",
                          "DELETE FROM transitions", "UPDATE trials SET objective = 99",
                          "DELETE FROM trials"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only|never"):
                raw.execute(statement)
    finally:
        raw.close()
    assert registry.status(c.hash, "1h") == "born"


def test_checkpoints_round_trip_and_the_latest_wins(registry):
    assert registry.latest_checkpoint("run-a") is None
    payload = bytes(range(256)) * 10
    registry.save_checkpoint("run-a", 0, b"gen0", json.dumps({"seed": 1}))
    registry.save_checkpoint("run-a", 2, payload, json.dumps({"seed": 1, "gen": 2}))
    registry.save_checkpoint("run-a", 1, b"gen1", "{}")
    registry.save_checkpoint("run-b", 5, b"other", "{}")
    latest = registry.latest_checkpoint("run-a")
    assert latest == Checkpoint(2, payload, '{"seed": 1, "gen": 2}')
    generation, data, config = latest
    assert (generation, data, json.loads(config)) == (2, payload, {"seed": 1, "gen": 2})
    registry.save_checkpoint("run-a", 2, b"again", "{}")
    assert registry.latest_checkpoint("run-a").payload == b"again"
    with pytest.raises(RegistryError, match="not JSON"):
        registry.save_checkpoint("run-a", 3, b"x", "{broken")


def test_a_failed_generation_rolls_back_to_the_previous_one(registry):
    with registry.transaction():
        for n in range(3):
            registry.record(candidate(n), evaluation(n), layer="1h", run_id="r")
        registry.save_checkpoint("r", 0, b"state-0", "{}")
    with pytest.raises(RuntimeError, match="crash"), registry.transaction():
        for n in range(3, 6):
            registry.record(candidate(n), evaluation(n), layer="1h", run_id="r")
        registry.transition(candidate(0).hash, "1h", "validated", reason="", at=5)
        registry.save_checkpoint("r", 1, b"state-1", "{}")
        raise RuntimeError("crash mid-generation")
    assert registry.count_trials("1h") == 3
    assert registry.latest_checkpoint("r") == Checkpoint(0, b"state-0", "{}")
    assert registry.status(candidate(0).hash, "1h") == "born"
    assert registry.record(candidate(4), evaluation(4), layer="1h", run_id="r")  # not there


def test_a_killed_writer_leaves_the_last_committed_generation(tmp_path):
    path = tmp_path / "registry.sqlite"
    code = textwrap.dedent(f"""
        import os
        from actors.adapters.sqlite_registry import TrialRegistry
        from tests.actors.test_sqlite_registry import candidate, evaluation
        reg = TrialRegistry({str(path)!r})
        with reg.transaction():
            for n in range(2):
                reg.record(candidate(n), evaluation(n), layer="1h", run_id="r")
            reg.save_checkpoint("r", 0, b"state-0", "{{}}")
        with reg.transaction():
            for n in range(2, 4):
                reg.record(candidate(n), evaluation(n), layer="1h", run_id="r")
            reg.save_checkpoint("r", 1, b"state-1", "{{}}")
            os._exit(9)  # the process dies mid-generation
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    with TrialRegistry(path) as reg:
        assert reg.count_trials("1h") == 2
        assert reg.latest_checkpoint("r") == Checkpoint(0, b"state-0", "{}")


def test_wal_mode_and_schema_version(registry, tmp_path):
    raw = sqlite3.connect(registry.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        raw.close()
    registry.close()
    with TrialRegistry(registry.path) as reopened:  # opening again keeps one version row
        assert reopened.count_trials("1h") == 0
    raw = sqlite3.connect(registry.path)
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with pytest.raises(RegistryError, match="newer"):
        TrialRegistry(registry.path)


def test_a_file_that_is_not_a_database_is_a_registry_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RegistryError, match="bad.sqlite"):
        TrialRegistry(bad)


def test_readers_see_committed_state_while_a_writer_holds_a_transaction(tmp_path):
    path = tmp_path / "registry.sqlite"
    with TrialRegistry(path) as writer:
        writer.record(candidate(0), evaluation(0), layer="1h", run_id="r")
        readers = [TrialRegistry(path) for _ in range(4)]
        try:
            with writer.transaction():
                writer.record(candidate(1), evaluation(1), layer="1h", run_id="r")
                counts: list[int] = []

                def read(reader: TrialRegistry) -> None:
                    for _ in range(20):
                        counts.append(reader.count_trials("1h"))

                threads = [threading.Thread(target=read, args=(r,)) for r in readers]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=30)
                assert counts == [1] * 80  # not blocked, and no dirty reads
                started = time.monotonic()
                with TrialRegistry(path) as late:  # opening does not wait for the writer
                    assert late.count_trials("1h") == 1
                assert time.monotonic() - started < 2.0
            assert [r.count_trials("1h") for r in readers] == [2, 2, 2, 2]
        finally:
            for reader in readers:
                reader.close()


def test_one_registry_shared_by_threads_records_everything_once(registry):
    def write(offset: int) -> None:
        for n in range(20):
            registry.record(candidate(n), evaluation(n), layer="1h", run_id=f"t{offset}")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert registry.count_trials("1h") == 20
    assert [t.to_status for t in registry.history(candidate(3).hash, "1h")] == ["born"]


def test_a_replaced_active_alpha_goes_back_to_candidate_and_can_be_restored(registry):
    c = candidate(1)
    registry.record(c, evaluation(1), layer="1h", run_id="r", at=1)
    for at, status in enumerate(["validated", "candidate", "active", "candidate", "active"],
                                start=2):
        registry.transition(c.hash, "1h", status, reason=status, at=at)
    assert [t.to_status for t in registry.history(c.hash, "1h")] == [
        "born", "validated", "candidate", "active", "candidate", "active"]


def _template(timeframe: str = "1h"):
    from configs.alpha import MappingConfig
    from configs.backtest import BacktestConfig
    from configs.risk import RiskLimits
    from core.governance.policy import PolicyTemplate

    return PolicyTemplate(MappingConfig(), BacktestConfig(), RiskLimits(), ("BTC/USDT",),
                          timeframe, (0, 3_600_000 * 500))


def test_a_trial_s_policy_is_its_expression_under_its_run_s_template(registry):
    c = candidate(3)
    registry.record_run("r", "1h", _template())
    registry.record_run("r", "1h", _template())  # a resume with the same settings
    registry.record(c, evaluation(3), layer="1h", run_id="r")
    policy = registry.policy(c.hash, "1h")
    assert policy == _template().complete(c.text)
    assert policy.strategy.expression == c.text and len(policy.hash) == 16
    with pytest.raises(RegistryError, match="another policy template"):
        registry.record_run("r", "1h", _template("4h"))
    other = candidate(4)
    registry.record(other, evaluation(4), layer="1h", run_id="old-run")
    with pytest.raises(RegistryError, match="recorded no policy template"):
        registry.policy(other.hash, "1h")
    with pytest.raises(RegistryError, match="no trial"):
        registry.policy("deadbeef", "1h")


def test_a_schema_1_registry_is_upgraded_and_keeps_its_trials(tmp_path):
    path = tmp_path / "old.sqlite"
    with TrialRegistry(path) as registry:
        registry.record(candidate(1), evaluation(1), layer="1h", run_id="r")
    raw = sqlite3.connect(path)  # as a version-1 file: no runs table
    raw.execute("DROP TABLE runs")
    raw.execute("UPDATE schema_version SET version = 1")
    raw.commit()
    raw.close()
    with TrialRegistry(path) as registry:
        assert registry.count_trials("1h") == 1
        registry.record_run("r2", "1h", _template())
        assert registry.run_template("r2") == _template()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    raw.close()
