"""An alpha end to end: expression -> signal -> target positions -> backtest with costs."""

from __future__ import annotations

from configs.alpha import MappingConfig
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest import BacktestResult, MarketArrays, Targets, run_backtest
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.nodes import Node
from core.dsl.positions import map_positions


def alpha_targets(expression: Node, data: AlphaData, mapping: MappingConfig) -> Targets:
    """Evaluate ``expression`` and map its signal to backtester targets."""
    (signal,) = evaluate([expression], data)
    return Targets(map_positions(signal, mapping))


def backtest_alpha(expression: Node, market: MarketArrays, mapping: MappingConfig,
                   config: BacktestConfig, risk: RiskLimits | None = None,
                   data: AlphaData | None = None) -> BacktestResult:
    """Backtest an alpha on ``market`` with costs (next-open fills, caps from ``risk``)."""
    data = data if data is not None else AlphaData.from_market(market)
    return run_backtest(market, alpha_targets(expression, data, mapping), config, risk)
