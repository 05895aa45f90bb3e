"""A new session takes the policy ledger's active policy and candidates.

With ``[governance] use_ledger`` (the default) and a ledger in the store, a new session trades
the ledger's active policy instead of ``[strategy]``: its strategy, its trading rules
(``[backtest]``), its risk template (as the active risk profile, still under the configured
backstop) and its market (``[data]`` symbols and timeframe). The ledger's standing candidates
(up to ``candidate_slots``, oldest first) replace the ``[session]`` candidates; one whose
market, trading rules or risk template differ from the session's cannot be paper-traded beside
it (candidates share the session's feeds and rules) and is left out, with a note. The result
is recorded in the session's configuration, so ``resume`` trades the same policies whatever
the ledger says later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.adapters.policy_ledger import PolicyLedger
from configs.loader import LoadedConfig, with_overrides
from core.errors import ConfigError, UsageError
from core.governance.ledger import active_policy, latest_spec, standing_candidates
from core.governance.policy import PolicySpec

POLICY_PROFILE = "policy"
"""Name of the risk profile that holds the active policy's risk template."""


def apply_ledger(loaded: LoadedConfig) -> tuple[LoadedConfig, list[str]]:
    """``loaded`` with the ledger's policies applied (see the module doc), and notes.

    Raises:
        UsageError: The ledger does not verify, or its active policy cannot run under this
            configuration (e.g. its risk template is looser than the backstop).
    """
    config = loaded.config
    store = Path(config.store.path)
    if not config.governance.use_ledger or not store.is_file():
        return loaded, []
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
        problems = ledger.verify()
    if problems:
        raise UsageError(f"the policy ledger in {store} does not verify ({problems[0]}); "
                         "`python scripts/promote.py verify` lists every problem")
    active = active_policy(entries)
    standing = standing_candidates(entries)
    if active is None and not standing:
        return loaded, []
    overrides: dict[str, Any] = {"governance": {}}
    notes: list[str] = []
    if active is not None:
        spec = latest_spec(entries, active)
        overrides.update(_active_overrides(spec, config.risk.profiles, config.risk.backstop))
        notes.append(f"trading the ledger's active policy {active} "
                     f"({_describe(spec)}) instead of [strategy]")
        market = (spec.symbols, spec.timeframe, spec.trading, spec.risk)
    else:
        market = (tuple(config.data.symbols), config.data.timeframe, config.backtest,
                  config.risk.effective())
    if standing:
        chosen = []
        for entry in standing:
            spec = latest_spec(entries, entry.policy_hash)
            if (spec.symbols, spec.timeframe, spec.trading, spec.risk) != market:
                notes.append(f"candidate {spec.hash} left out: it trades "
                             f"{','.join(spec.symbols)} {spec.timeframe} under other trading "
                             "rules or risk limits than this session")
            elif len(chosen) >= config.governance.candidate_slots:
                notes.append(f"candidate {spec.hash} left out: all "
                             f"{config.governance.candidate_slots} candidate slots are taken")
            else:
                chosen.append(spec.canonical_json())
        overrides["governance"]["candidate_policies"] = chosen
        overrides["session"] = {"candidates": []}
        notes.append(f"paper-trading {len(chosen)} ledger candidate(s) instead of [session] "
                     "candidates")
    try:
        return with_overrides(loaded, overrides, origin="the policy ledger"), notes
    except ConfigError as exc:
        raise UsageError(f"the ledger's policies cannot run under this configuration: {exc}"
                         ) from exc


def _active_overrides(spec: PolicySpec, profiles: dict[str, Any], backstop: str
                      ) -> dict[str, Any]:
    return {
        "governance": {"active_policy": spec.canonical_json()},
        "backtest": spec.trading.model_dump(mode="json"),
        "risk": {"profile": POLICY_PROFILE, "backstop": backstop,
                 "profiles": {**{n: p.model_dump(mode="json") for n, p in profiles.items()},
                              POLICY_PROFILE: spec.risk.model_dump(mode="json")}},
        "data": {"symbols": list(spec.symbols), "timeframe": spec.timeframe},
    }


def _describe(spec: PolicySpec) -> str:
    definition = spec.strategy
    what = (definition.expression if definition.kind == "alpha" else
            f"{definition.name} {dict(definition.params)}")
    return f"{what} on {','.join(spec.symbols)} {spec.timeframe}"
