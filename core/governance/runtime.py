"""A policy at run time: what a slot runs for it, and the spec a session actually runs (pure).

A session's slot and candidates run :class:`~core.trading.choice.StrategyChoice` values under
the session's trading rules and risk limits. :func:`runtime_spec` is the spec of what really
runs, built from those runtime objects, never copied from the ledger: when a session trades a
promoted policy, the runtime spec it records equals :func:`runtime_form` of the ledger's spec
byte for byte, or the policy was not applied as promoted. The runtime form has no data window
and no provenance: they say where and by which run a policy was proven, not how it trades.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from configs.app import AppConfig
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.governance.policy import PolicySpec, policy_spec
from core.trading.choice import StrategyChoice
from core.trading.runners import choice_definition


def choice_of(spec: PolicySpec, label: str) -> StrategyChoice:
    """What a slot or candidate named ``label`` runs for ``spec``'s strategy."""
    definition = spec.strategy
    if definition.kind == "alpha":
        return StrategyChoice(label=label, alpha=definition.expression,
                              mapping=tuple(definition.mapping))
    return StrategyChoice(label=label, strategy=definition.name,
                          params=tuple(definition.params))


def runtime_spec(choice: StrategyChoice, trading: BacktestConfig, risk: RiskLimits,
                 symbols: Sequence[str], timeframe: str) -> PolicySpec:
    """The spec of ``choice`` run under these rules (no window; see the module doc).

    Raises:
        BacktestError: Unknown built-in or bad parameters.
        DSLError: A malformed alpha.
        ConfigError: Bad symbols.
    """
    return policy_spec(choice_definition(choice), trading, risk, tuple(symbols), timeframe)


def session_runtime(choice: StrategyChoice, config: AppConfig) -> PolicySpec:
    """:func:`runtime_spec` of ``choice`` under a session's configuration.

    Its ``[backtest]`` rules, effective risk limits, symbols and timeframe.
    """
    return runtime_spec(choice, config.backtest, config.risk.effective(),
                        tuple(config.data.symbols), config.data.timeframe)


def runtime_form(spec: PolicySpec) -> PolicySpec:
    """``spec`` as a session runs it: the same policy without its proof (window, provenance)."""
    return dataclasses.replace(spec, window=(None, None), provenance=())
