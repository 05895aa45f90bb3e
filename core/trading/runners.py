"""One strategy over a session's symbols: a runner per symbol (or per pair, or one alpha).

A built-in that takes one symbol (momentum, mean reversion) runs once per traded symbol, a
pairs strategy on its two symbols, and a DSL alpha on all of them at once. Their signals are
merged in (bar, symbol column) order, so the output does not depend on how the work is split.
"""

from __future__ import annotations

from collections.abc import Sequence

from configs.alpha import MappingConfig
from core.strategies.registry import get_strategy
from core.trading.choice import StrategyChoice
from core.trading.messages import MarketBatch, PortfolioSnapshot
from core.trading.slot import (
    SlotOutput,
    StrategyDefinition,
    StrategyRunner,
    alpha_definition,
    builtin_definition,
)

__all__ = ["StrategyChoice", "build_runners", "choice_definition", "run_batch"]


def choice_definition(choice: StrategyChoice) -> StrategyDefinition:
    """The canonical definition of what ``choice`` runs (the same for each of its runners).

    Raises:
        BacktestError: Unknown built-in or bad parameters.
        DSLError: A malformed alpha.
    """
    if choice.alpha is not None:
        mapping = MappingConfig(**dict(choice.mapping)) if choice.mapping else None
        return alpha_definition(choice.alpha, mapping, name=choice.label)
    assert choice.strategy is not None
    return builtin_definition(choice.strategy, dict(choice.params))


def build_runners(choice: StrategyChoice, symbols: Sequence[str]) -> list[StrategyRunner]:
    """The runners that together trade ``symbols`` with ``choice``.

    Raises:
        BacktestError: Unknown built-in, bad parameters, or a pairs strategy without exactly
            two symbols.
        DSLError: A malformed alpha.
    """
    definition = choice_definition(choice)
    if definition.kind == "alpha":
        return [StrategyRunner(definition, symbols)]
    spec = get_strategy(definition.name)
    if spec.symbols == 1:
        return [StrategyRunner(definition, (s,), spec=spec) for s in symbols]
    return [StrategyRunner(definition, tuple(symbols)[: spec.symbols], spec=spec)]


def run_batch(runners: Sequence[StrategyRunner], batch: MarketBatch,
              portfolio: PortfolioSnapshot | None = None) -> SlotOutput:
    """Every runner on ``batch``; signals and diary merged in (bar, symbol column) order."""
    outputs = [runner.on_batch(batch, portfolio) for runner in runners]
    column = {symbol: j for j, symbol in enumerate(batch.symbols)}
    signals = sorted((s for o in outputs for s in o.signals),
                     key=lambda s: (s.ts, column[s.symbol], s.tag))
    diary = sorted((d for o in outputs for d in o.diary),
                   key=lambda d: (d.ts, column.get(d.symbol, -1)))
    errors = [e for o in outputs for e in o.errors]
    return SlotOutput(signals=signals, diary=diary, errors=errors)
