"""What a policy is expected to earn on given bars: its backtest, bar by bar (pure).

The same strategy, trading rules, costs and risk template as the policy's spec, run by the
backtester on the bars given. A session's strategies start cold at the session's first bar,
so the expectation of a session's bars is this backtest over exactly those bars: in SIM a
candidate's paper book equals it (the parity tests), and in PAPER or LIVE the difference is
the tracking error the gates measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from configs.alpha import MappingConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.data.candles import Candles
from core.dsl import parse
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.positions import map_positions
from core.errors import ConfigError
from core.evolution.descriptors import portfolio_returns
from core.governance.policy import PolicySpec
from core.strategies.registry import get_strategy, parse_params


@dataclass(frozen=True, slots=True)
class Expectation:
    """A policy's backtest on some bars.

    Attributes:
        ts: Bar open times (ms), one per bar.
        equity: Portfolio equity after each bar.
        returns: ``returns[i]`` is the portfolio's simple return over bar ``i``, every symbol
            a sleeve of one account, as discovery scores it (NaN where equity was gone).
        fills: Number of fills.
    """

    ts: np.ndarray
    equity: np.ndarray
    returns: np.ndarray
    fills: int


def policy_targets(spec: PolicySpec, candles: Sequence[Candles]) -> np.ndarray:
    """The policy's target positions, ``(bars, symbols)``, on ``candles`` (one per symbol).

    Raises:
        ConfigError: The candles are not the spec's symbols.
    """
    symbols = tuple(c.meta.symbol for c in candles)
    if symbols != spec.symbols:
        raise ConfigError(f"policy {spec.hash} trades {', '.join(spec.symbols)}, the bars are "
                          f"of {', '.join(symbols)}")
    definition = spec.strategy
    if definition.kind == "alpha":
        data = AlphaData.from_market(MarketArrays.from_candles(list(candles)))
        signal = evaluate([parse(definition.expression)], data)[0]
        return map_positions(signal, MappingConfig(**dict(definition.mapping)))
    strategy = get_strategy(definition.name)
    params = parse_params(strategy, dict(definition.params))
    if strategy.symbols == 1:
        return np.column_stack([strategy.compute([c], params)[0] for c in candles])
    pair = strategy.compute(list(candles)[: strategy.symbols], params)
    rest = [np.full(len(candles[0]), np.nan)] * (len(candles) - strategy.symbols)
    return np.column_stack([*pair, *rest])


def expectation(spec: PolicySpec, candles: Sequence[Candles]) -> Expectation:
    """The policy's backtest on ``candles`` (see the module doc)."""
    market = MarketArrays.from_candles(list(candles))
    result = run_backtest(market, Targets(policy_targets(spec, candles)), spec.trading,
                          spec.risk)
    equity = result.portfolio_equity()
    returns = portfolio_returns(result)
    return Expectation(np.asarray(market.timestamp, dtype=np.int64), equity, returns,
                       len(result.orders))
