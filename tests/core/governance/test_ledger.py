"""The hash-chained policy ledger (core.governance.ledger)."""

from __future__ import annotations

import dataclasses

import pytest

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.errors import ConfigError
from core.governance.ledger import (
    GENESIS,
    Action,
    Evidence,
    GateResult,
    LedgerEntry,
    active_policy,
    next_entry,
    previous_active,
    verify_chain,
)
from core.governance.policy import PolicySpec, policy_spec
from core.trading.slot import alpha_definition, builtin_definition


def spec(fast: int) -> PolicySpec:
    return policy_spec(builtin_definition("momentum", {"fast": fast}), BacktestConfig(),
                       RiskLimits(), ("BTC/USDT",), "1h")


ALPHA = policy_spec(alpha_definition("(ts_zscore (delta close 12) 48)"), BacktestConfig(),
                    RiskLimits(), ("BTC/USDT", "ETH/USDT"), "1h", (1, 2))
GATES = (GateResult("oos_sharpe", 1.4, ">= 1.0", True,
                    (Evidence("run", "evolve/20261207-1"),
                     Evidence("report", "runs/evolve/20261207-1/report.json", "ab" * 32))),
         GateResult("pbo", 0.2, "<= 0.3", True))


def chain() -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    for action, policy, at in ((Action.CANDIDATE_ADD, ALPHA, 10), (Action.PROMOTE, spec(5), 20),
                               (Action.PROMOTE, ALPHA, 30), (Action.ROLLBACK, spec(5), 40)):
        entries.append(next_entry(entries[-1] if entries else None, action, policy,
                                  decided_by="operator:ana", reason=f"{action} at {at}",
                                  at_ms=at, gates=GATES if action is Action.PROMOTE else ()))
    return entries


def test_a_chain_verifies_and_each_entry_links_to_the_one_before() -> None:
    entries = chain()
    assert verify_chain(entries) == []
    assert [e.seq for e in entries] == [1, 2, 3, 4] and entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert len({e.hash for e in entries}) == 4 and len(entries[0].hash) == 64
    assert [LedgerEntry.from_json(e.canonical_json()) for e in entries] == entries
    assert entries[2].spec == ALPHA  # the recorded policy rebuilds exactly


def test_who_is_active_and_what_a_rollback_restores() -> None:
    entries = chain()
    assert active_policy(entries[:1]) is None
    assert active_policy(entries[:2]) == spec(5).hash
    assert active_policy(entries[:3]) == ALPHA.hash
    assert previous_active(entries[:3]) == spec(5).hash
    assert active_policy(entries) == spec(5).hash  # rolled back
    retire = next_entry(entries[-1], Action.RETIRE, spec(5), decided_by="rule:drift-1",
                        reason="decayed", at_ms=50)
    assert active_policy([*entries, retire]) is None


@pytest.mark.parametrize("tamper, named", [
    (lambda es: es.__setitem__(1, dataclasses.replace(es[1], reason="edited")), "entry 3"),
    (lambda es: es.__delitem__(1), "entry 3"),
    (lambda es: es.insert(1, es.pop(2)), "entry 3"),
    (lambda es: es.__setitem__(2, dataclasses.replace(es[2], policy=spec(6).canonical_json())),
     "entry 3: its policy hashes to"),
])
def test_any_change_breaks_the_chain_at_a_named_entry(tamper, named) -> None:
    entries = chain()
    tamper(entries)
    problems = verify_chain(entries)
    assert problems and any(p.startswith(named) for p in problems), problems


def test_an_entry_needs_a_decider_a_reason_and_time_moving_forward() -> None:
    first = next_entry(None, Action.CANDIDATE_ADD, ALPHA, decided_by="operator:ana",
                       reason="new alpha", at_ms=100)
    with pytest.raises(ConfigError, match="who decided and why"):
        next_entry(first, Action.PROMOTE, ALPHA, decided_by="operator:ana", reason=" ",
                   at_ms=200)
    with pytest.raises(ConfigError, match="cannot follow one at 100"):
        next_entry(first, Action.PROMOTE, ALPHA, decided_by="operator:ana", reason="go",
                   at_ms=99)
    with pytest.raises(ConfigError, match="not a ledger entry"):
        LedgerEntry.from_json('{"seq": 1}')
