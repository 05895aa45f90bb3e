"""scripts/promote.py: the alphas standing for promotion and the policy ledger, read."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.sqlite_registry import TrialRegistry
from scripts.promote import main
from tests.actors.test_sqlite_registry import _template, candidate, evaluation
from tests.core.governance.test_ledger import chain

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    with TrialRegistry(path) as registry:
        registry.record_run("r", "1h", _template())
        for n in range(4):
            registry.record(candidate(n), evaluation(n), layer="1h", run_id="r")
        for status in ("validated", "candidate"):
            registry.transition(candidate(1).hash, "1h", status, reason=f"to {status}", at=1)
        registry.transition(candidate(2).hash, "1h", "validated", reason="gates", at=1)
    with PolicyLedger(path) as ledger:
        for entry in chain():
            ledger.append(entry)
    return path


def test_list_shows_the_standing_alphas_with_their_policy(store, capsys) -> None:
    assert main(["--store", str(store), "list"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("1h")]
    assert [line.split()[2] for line in lines] == ["candidate", "validated"]
    with TrialRegistry(store) as registry:
        policy = registry.policy(candidate(1).hash, "1h").hash
    assert policy in lines[0] and candidate(1).hash[:12] in lines[0]
    assert main(["--store", str(store), "list", "--status", "born"]) == 0
    assert candidate(0).text in capsys.readouterr().out


def test_show_prints_a_trial_s_policy_and_lifecycle(store, capsys) -> None:
    wanted = candidate(1).hash
    assert main(["--store", str(store), "show", wanted[:10]]) == 0
    out = capsys.readouterr().out
    assert f"trial {wanted}" in out and "validated -> candidate" in out
    assert candidate(1).text in out and '"timeframe": "1h"' in out
    policy = chain()[2].policy_hash  # a policy known only to the ledger
    assert main(["--store", str(store), "show", policy]) == 0
    out = capsys.readouterr().out
    assert f"policy {policy}" in out and "promote" in out


def test_unknown_or_ambiguous_ids_are_usage_errors(store, capsys) -> None:
    assert main(["--store", str(store), "show", "zzzz"]) == 2
    assert "no trial and no ledger policy named 'zzzz'" in capsys.readouterr().err
    assert main(["--store", str(store), "show", ""]) == 2
    assert "give more of the hash" in capsys.readouterr().err
    assert main(["--store", str(store.parent / "none.sqlite"), "list"]) == 2
    assert "no store at" in capsys.readouterr().err


def test_history_and_verify_read_the_ledger(store, capsys) -> None:
    assert main(["--store", str(store), "history"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["1", "2", "3", "4"]
    assert "rollback" in out and "operator:ana" in out
    assert main(["--store", str(store), "verify"]) == 0
    assert f"verifies: 4 entries, tail {chain()[-1].hash}" in capsys.readouterr().out


def test_a_tampered_ledger_fails_verify_naming_the_entry(store) -> None:
    raw = sqlite3.connect(store)
    raw.execute("DROP TRIGGER policy_ledger_no_update")
    raw.execute("UPDATE policy_ledger SET body = replace(body, 'rollback at 40', 'x') "
                "WHERE seq = 4")
    raw.commit()
    raw.close()
    done = subprocess.run([sys.executable, "scripts/promote.py", "--store", str(store),
                           "verify"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 1, done.stderr
    assert "ledger: entry 4: its content does not match its stored hash" in done.stderr
    assert "does NOT verify" in done.stderr


def test_no_command_creates_a_store(tmp_path, capsys) -> None:
    missing = tmp_path / "nothing.sqlite"
    for command in ("history", "verify"):
        assert main(["--store", str(missing), command]) == 2
        assert "no store at" in capsys.readouterr().err
    assert not missing.exists()


def test_the_store_may_be_given_before_or_after_the_command(store, capsys) -> None:
    assert main(["verify", "--store", str(store)]) == 0
    assert main(["--store", str(store), "verify"]) == 0
    assert capsys.readouterr().out.count("verifies: 4 entries") == 2
