"""The policy ledger on a real SQLite file (actors.adapters.policy_ledger)."""

from __future__ import annotations

import sqlite3

import pytest

from actors.adapters.policy_ledger import LedgerError, PolicyLedger
from core.governance.ledger import Action, next_entry
from tests.core.governance.test_ledger import ALPHA, chain, spec


def test_entries_survive_reopening_and_verify(tmp_path) -> None:
    path = tmp_path / "store.sqlite"
    with PolicyLedger(path) as ledger:
        assert ledger.tail() is None and ledger.entries() == [] and ledger.verify() == []
        for entry in chain():
            ledger.append(entry)
    with PolicyLedger(path) as ledger:
        assert ledger.entries() == chain() and ledger.tail() == chain()[-1]
        assert ledger.verify() == []


def test_an_append_that_does_not_follow_the_tail_is_refused(tmp_path) -> None:
    with PolicyLedger(tmp_path / "store.sqlite") as ledger:
        first, second = chain()[:2]
        ledger.append(first)
        ledger.append(second)
        rival = next_entry(first, Action.PROMOTE, ALPHA, decided_by="operator:bo",
                           reason="late", at_ms=25)  # decided on a stale tail
        with pytest.raises(LedgerError, match="does not follow the tail"):
            ledger.append(rival)
        assert ledger.entries() == [first, second]


def test_the_file_refuses_edits_and_verify_names_a_forced_one(tmp_path) -> None:
    path = tmp_path / "store.sqlite"
    with PolicyLedger(path) as ledger:
        for entry in chain():
            ledger.append(entry)
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM policy_ledger WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE policy_ledger SET body = '{}' WHERE seq = 2")
    # someone determined drops the trigger and swaps entry 2's policy
    raw.execute("DROP TRIGGER policy_ledger_no_update")
    body = raw.execute("SELECT body FROM policy_ledger WHERE seq = 2").fetchone()[0]
    forged = body.replace(spec(5).canonical_json().replace('"', '\\"'),
                          spec(7).canonical_json().replace('"', '\\"'))
    assert forged != body
    raw.execute("UPDATE policy_ledger SET body = ? WHERE seq = 2", (forged,))
    raw.commit()
    raw.close()
    with PolicyLedger(path) as ledger:
        problems = ledger.verify()
    assert any(p.startswith("entry 2: its content does not match") for p in problems), problems
    assert any(p.startswith("entry 2: its policy hashes to") for p in problems), problems
    assert any(p.startswith("entry 3: its link") for p in problems), problems
