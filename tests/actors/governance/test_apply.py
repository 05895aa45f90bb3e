"""A new session takes the ledger's active policy and candidates (planning only, no Ray)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from actors.adapters.policy_ledger import PolicyLedger
from actors.governance.apply import apply_ledger
from actors.governance.promotion import rebuild_strategy
from actors.live.plan import plan_session, session_choices
from actors.live.policies import session_policies
from configs.alpha import MappingConfig
from configs.loader import LoadedConfig, with_overrides
from core.errors import UsageError
from core.governance.ledger import Action, next_entry
from core.governance.policy import PolicySpec, policy_spec
from core.governance.runtime import runtime_form
from core.trading.slot import alpha_definition, builtin_definition
from tests.actors.live.sessions import session_config

ALPHA = "(ts_zscore (delta close 24) 168)"
PAIR = ("BTC/USDT", "ETH/USDT")


def store_of(loaded: LoadedConfig) -> Path:
    return Path(loaded.config.store.path)


def append(store: Path, action: Action, spec: PolicySpec) -> None:
    with PolicyLedger(store) as ledger:
        tail = ledger.tail()
        ledger.append(next_entry(tail, action, spec, decided_by="operator:test",
                                 reason=f"{action.value} in a test",
                                 at_ms=0 if tail is None else tail.at_ms + 1))


def alpha_spec(loaded: LoadedConfig, **risk: float) -> PolicySpec:
    config = loaded.config
    limits = config.risk.effective().model_copy(update=risk)
    mapping = MappingConfig(kind="threshold", entry=1.0, exit=0.25)
    return policy_spec(alpha_definition(ALPHA, mapping), config.backtest, limits, PAIR, "1h",
                       (1_600_000_000_000, 1_700_000_000_000))


def builtin_spec(loaded: LoadedConfig, symbols: tuple[str, ...] = PAIR, fast: int = 10,
                 window: tuple[int | None, int | None] = (None, None), **risk: float
                 ) -> PolicySpec:
    config = loaded.config
    limits = config.risk.effective().model_copy(update=risk)
    return policy_spec(builtin_definition("momentum", {"fast": fast, "slow": 30}),
                       config.backtest, limits, symbols, "1h", window)


@pytest.fixture
def loaded(tmp_path: Path, shared_data: Path) -> LoadedConfig:
    return session_config(tmp_path, shared_data, symbols=("BTC/USDT",),
                          candidates=[{"name": "meanrev", "strategy": "mean_reversion"}])


def test_a_new_session_trades_the_ledgers_active_policy_and_candidates(
        loaded: LoadedConfig, tmp_path: Path) -> None:
    store = store_of(loaded)
    active = alpha_spec(loaded, max_position_pct=5.0)
    candidate = builtin_spec(loaded, max_position_pct=5.0,
                             window=(1_700_000_000_000, 1_710_000_000_000))
    elsewhere = builtin_spec(loaded, symbols=("BTC/USDT",), max_position_pct=5.0)
    other_risk = builtin_spec(loaded, fast=12)
    for spec in (candidate, elsewhere, other_risk):
        append(store, Action.CANDIDATE_ADD, spec)
    append(store, Action.PROMOTE, active)
    applied, notes = apply_ledger(loaded)
    config = applied.config
    assert config.governance.active_policy == active.canonical_json()
    assert config.risk.effective() == active.risk and config.backtest == active.trading
    assert tuple(config.data.symbols) == PAIR and applied.config_id != loaded.config_id
    live, candidates = session_choices(config)
    assert live.alpha == active.strategy.expression
    assert [name for name, _ in candidates] == [f"p-{candidate.hash}"]
    assert any("left out" in n and elsewhere.hash in n for n in notes)
    assert any("left out" in n and other_risk.hash in n for n in notes)
    plan = plan_session(applied, "s", tmp_path / "s", "tests")
    record = session_policies(plan.inputs)
    assert record["live"] == {"policy": active.hash, "ledger": True,
                              "runtime": runtime_form(active).canonical_json()}
    assert record[f"p-{candidate.hash}"]["policy"] == candidate.hash
    # both are watched for drift against their backtests on their proof windows
    assert json.loads(plan.inputs.drift_model)["policy"] == active.hash
    assert [name for name, _ in plan.inputs.candidate_drift] == [f"p-{candidate.hash}"]
    # the ledger alone rebuilds what the session runs, byte for byte
    assert rebuild_strategy(store, active.hash[:8]) == record["live"]["runtime"]


def test_no_ledger_or_use_ledger_off_changes_nothing(loaded: LoadedConfig) -> None:
    assert apply_ledger(loaded) == (loaded, [])
    append(store_of(loaded), Action.PROMOTE, alpha_spec(loaded))
    off = with_overrides(loaded, {"governance": {"use_ledger": False}})
    assert apply_ledger(off) == (off, [])


def test_candidate_slots_bound_the_ledger_candidates(loaded: LoadedConfig) -> None:
    store = store_of(loaded)
    specs = [builtin_spec(loaded, fast=f) for f in (5, 6, 7, 8)]
    for spec in specs:
        append(store, Action.CANDIDATE_ADD, spec)
    append(store, Action.CANDIDATE_REMOVE, specs[1])
    applied, notes = apply_ledger(with_overrides(loaded, {"data": {"symbols": list(PAIR)}}))
    chosen = [PolicySpec.from_json(t).hash for t in applied.config.governance.candidate_policies]
    assert chosen == [specs[0].hash, specs[2].hash, specs[3].hash]
    assert applied.config.session.candidates == []
    two = with_overrides(loaded, {"data": {"symbols": list(PAIR)},
                                  "governance": {"candidate_slots": 2}})
    applied, notes = apply_ledger(two)
    assert len(applied.config.governance.candidate_policies) == 2
    assert any("slots are taken" in n and specs[3].hash in n for n in notes)


def test_an_active_policy_looser_than_the_backstop_cannot_run(loaded: LoadedConfig) -> None:
    append(store_of(loaded), Action.PROMOTE, alpha_spec(loaded, max_position_pct=90.0))
    with pytest.raises(UsageError, match="cannot run under this configuration"):
        apply_ledger(loaded)


def test_a_ledger_that_does_not_verify_stops_a_new_session(loaded: LoadedConfig) -> None:
    store = store_of(loaded)
    append(store, Action.PROMOTE, alpha_spec(loaded))
    raw = sqlite3.connect(store)
    raw.execute("DROP TRIGGER policy_ledger_no_update")
    raw.execute("UPDATE policy_ledger SET body = replace(body, 'in a test', 'by nobody')")
    raw.commit()
    raw.close()
    with pytest.raises(UsageError, match="does not verify"):
        apply_ledger(loaded)


def test_a_ledger_policy_that_would_not_run_as_recorded_is_refused(
        loaded: LoadedConfig, tmp_path: Path) -> None:
    append(store_of(loaded), Action.PROMOTE, alpha_spec(loaded))
    applied, _ = apply_ledger(loaded)
    changed = with_overrides(applied, {"backtest": {"costs": {"taker_fee_bps": 1.0}}})
    plan = plan_session(changed, "s", tmp_path / "s", "tests")
    with pytest.raises(UsageError, match="would not run as recorded"):
        session_policies(plan.inputs)
