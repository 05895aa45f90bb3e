"""Discovery's survivors become candidates by a configured rule.

The rule (``[governance.auto_candidates]``) takes the validated trials of a discovery run
(those that passed the run's own gates; those already candidates count against it), best
objective first, and keeps each one whose
deflated Sharpe over every trial of the layer reaches ``min_dsr``, whose backtest returns on
the run's window correlate with the active policy's by at most ``max_correlation_to_active``
and with each candidate kept before it by at most ``max_correlation_to_each_other``, up to
``count``. Each kept one is added to the ledger (``rule:auto-candidates``, its figures in the
reason); every trial looked at is reported with why it was kept or left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.adapters.sqlite_registry import TrialRegistry
from actors.governance.evidence import Subject, load_market
from actors.governance.promotion import active_spec, add_candidate
from configs.app import AppConfig
from configs.governance import AutoCandidatesConfig
from core.errors import UsageError
from core.evolution.gates import apply_gates
from core.governance.expectation import expectation
from core.governance.ledger import active_policy, standing_candidates
from core.governance.policy import PolicySpec

RULE = "auto-candidates"
Series = tuple[np.ndarray, np.ndarray]
"""``(ts, returns)`` of a backtest."""


@dataclass(frozen=True)
class Verdict:
    """One validated trial under the rule."""

    trial: str
    policy: str
    kept: bool
    why: str


def auto_candidates(config: AppConfig, store: Path, run_id: str | None = None
                    ) -> list[Verdict]:
    """Apply the rule to run ``run_id`` (default: the latest run in the registry).

    Raises:
        UsageError: No run in the registry.
    """
    from actors.adapters.policy_ledger import PolicyLedger

    rule = config.governance.auto_candidates
    with TrialRegistry(store) as registry:
        run_id = run_id or registry.latest_run()
        if run_id is None:
            raise UsageError(f"no discovery run in {store}: run scripts/evolve.py first")
        survivors = sorted((t for t, _ in registry.standing(["validated", "candidate",
                                                             "active"])
                            if t.run_id == run_id), key=lambda t: (-t.objective, t.seq))
        if not survivors:
            return []
        layer = survivors[0].layer
        everyone = registry.trials(layer)
        gates = apply_gates({t.genome_id: t.metrics for t in survivors},
                            [t.metrics if t.ok else None for t in everyone])
        dsr = {t.hash: g.dsr for t, g in zip(survivors, gates, strict=True)}
        specs = {t.hash: registry.policy(t.hash, t.layer) for t in survivors}
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    standing = {e.policy_hash for e in standing_candidates(entries)}
    taken = standing | {active_policy(entries)}
    window = specs[survivors[0].hash].window
    active = _returns(config, active_spec(config, entries), window)
    # survivors of this run that are candidates already count against the rule
    kept: list[Series] = [_returns(config, specs[t.hash], window) for t in survivors
                          if specs[t.hash].hash in standing]
    verdicts = []
    for trial in survivors:
        spec = specs[trial.hash]
        why = _refusal(rule, spec, dsr[trial.hash], taken, len(kept))
        returns = None
        if not why:
            returns = _returns(config, spec, window)
            why = _correlated(returns, active, kept, rule)
        if why:
            verdicts.append(Verdict(trial.hash, spec.hash, False, why))
            continue
        assert returns is not None
        kept.append(returns)
        reason = (f"{RULE}: run {run_id}, objective {trial.objective:.3f}, DSR "
                  f"{dsr[trial.hash]:.3f} over {len(everyone)} trials")
        add_candidate(config, store, Subject(spec, trial), operator="", reason=reason,
                      decided_by=f"rule:{RULE}")
        verdicts.append(Verdict(trial.hash, spec.hash, True, reason))
    return verdicts


def _refusal(rule: AutoCandidatesConfig, spec: PolicySpec, dsr: float,
             taken: set[str | None], count: int) -> str:
    if spec.hash in taken:
        return "already a candidate or active"
    if count >= rule.count:
        return f"the rule's {rule.count} candidate(s) are taken"
    if not (math.isfinite(dsr) and dsr >= rule.min_dsr):
        return f"DSR {dsr:.3g} < {rule.min_dsr:g}"
    return ""


def _correlated(returns: Series, active: Series, kept: list[Series],
                rule: AutoCandidatesConfig) -> str:
    limit_active, limit_other = rule.max_correlation_to_active, rule.max_correlation_to_each_other
    corr = _correlation(returns, active)
    if corr > limit_active:
        return f"correlation {corr:.2f} to the active policy > {limit_active:g}"
    for other in kept:
        corr = _correlation(returns, other)
        if corr > limit_other:
            return f"correlation {corr:.2f} to a candidate kept before it > {limit_other:g}"
    return ""


def _returns(config: AppConfig, spec: PolicySpec, window: tuple[int | None, int | None]
             ) -> Series:
    """``(ts, returns)`` of the policy's backtest on ``window``."""
    start, end = window
    candles = load_market(config, spec, start, None if end is None else end + 1)
    result = expectation(spec, candles)
    return result.ts, np.nan_to_num(result.returns)


def _correlation(a: Series, b: Series) -> float:
    _, ia, ib = np.intersect1d(a[0], b[0], return_indices=True)
    x, y = a[1][ia], b[1][ib]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
