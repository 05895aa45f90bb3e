"""A discovery run's validated survivors become candidates by the configured rule."""

from __future__ import annotations

from pathlib import Path

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.sqlite_registry import TrialRegistry
from actors.governance.auto_candidates import auto_candidates
from configs.loader import load_config, with_overrides
from core.data.times import parse_time_ms
from core.dsl import parse, structural_hash, to_text
from core.evolution.genome import Candidate, Evaluation
from core.governance.ledger import Action
from core.governance.policy import PolicyTemplate
from scripts.promote import main

ZSCORE = "(ts_zscore (delta close 24) 168)"
SURVIVORS = (ZSCORE, f"(mul 2.0 {ZSCORE})", "(sign (sub close close))", "(ts_rank volume 50)")
"""Best objective first: the second trades exactly like the first; the third never trades."""


def store_with_a_run(tmp_path: Path, config) -> Path:
    store = tmp_path / "store.sqlite"
    window = (parse_time_ms("2024-01-01"), parse_time_ms("2024-07-01"))
    template = PolicyTemplate(config.evolution.objective.mapping, config.backtest,
                              config.risk.effective(), ("BTC/USDT",), "1h", window)
    with TrialRegistry(store) as registry:
        registry.record_run("run-1", "tactical", template)
        for n, text in enumerate((*SURVIVORS, "(ts_mean close 5)")):
            node = parse(text)
            candidate = Candidate(n, node, to_text(node), structural_hash(node), (), 0, "random")
            metrics = {"p_value": 0.001, "oos_sr": 0.05, "oos_skew": 0.0, "oos_kurtosis": 3.0,
                       "oos_bars": 4000.0}
            registry.record(candidate, Evaluation(n, True, 10.0 - n, (0.0,), metrics, ()),
                            layer="tactical", run_id="run-1")
            if text in SURVIVORS:
                registry.transition(candidate.hash, "tactical", "validated", reason="gates",
                                    at=1)
    return store


def test_the_rule_keeps_the_best_uncorrelated_survivors(tmp_path: Path, shared_data: Path,
                                                        capsys) -> None:
    loaded = with_overrides(load_config(env={}), {
        "data": {"dir": str(shared_data)}, "store": {"path": str(tmp_path / "store.sqlite")},
        "governance": {"auto_candidates": {"count": 2, "min_dsr": 0.0}}})
    store = store_with_a_run(tmp_path, loaded.config)
    verdicts = auto_candidates(loaded.config, store)
    assert [v.kept for v in verdicts] == [True, False, True, False]
    assert "to a candidate kept before it" in verdicts[1].why
    assert "candidate(s) are taken" in verdicts[3].why
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries] == [Action.CANDIDATE_ADD] * 2
    assert {e.decided_by for e in entries} == {"rule:auto-candidates"}
    assert [e.policy_hash for e in entries] == [verdicts[0].policy, verdicts[2].policy]
    with TrialRegistry(store) as registry:
        statuses = [registry.status(structural_hash(parse(t)), "tactical") for t in SURVIVORS]
    assert statuses == ["candidate", "validated", "candidate", "validated"]
    # the same rule again (here and from the command line) adds nothing twice
    again = auto_candidates(loaded.config, store)
    assert not any(v.kept for v in again), [(v.kept, v.why) for v in again]
    assert "already a candidate" in again[0].why
    path = tmp_path / "strict.toml"
    path.write_text(f'[data]\ndir = "{shared_data}"\n[store]\npath = "{store}"\n')
    assert main(["candidate", "auto", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ADDED" not in out and "already a candidate" in out
