"""What a policy is expected to earn on given bars, bar by bar (pure).

* :func:`expectation`: the backtester's run of the policy (every symbol a sleeve of one
  account, as discovery scores it) — what research measured.
* :func:`session_expectation`: the policy traded by a session's own SIM trading loop (one
  account, the same paper venue and risk gate as a candidate) on exactly the bars given. A
  session's strategies start cold at its first bar, so in SIM a candidate's paper book equals
  it bar for bar, and in PAPER or LIVE the difference is the tracking error the gates measure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from configs.alpha import MappingConfig
from configs.guardian import GuardianConfig
from core.backtest import MarketArrays, Targets, run_backtest
from core.data.candles import Candles
from core.dsl import parse
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.positions import map_positions
from core.errors import ConfigError
from core.evolution.descriptors import portfolio_returns
from core.governance.policy import PolicySpec
from core.governance.runtime import choice_of
from core.strategies.registry import get_strategy, parse_params
from core.trading.book import PaperBook
from core.trading.messages import MarketBatch
from core.trading.risk import RiskEngine
from core.trading.runners import build_runners, run_batch


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


def session_expectation(spec: PolicySpec, market: MarketArrays, guardian: GuardianConfig,
                        step_bars: int) -> Expectation:
    """The policy on a session's SIM trading loop over ``market`` (see the module doc).

    Args:
        spec: The policy.
        market: The session's bars (its symbols, in column order).
        guardian: The session's guardian settings (the candidate's risk gate uses them).
        step_bars: Bars per session step.
    """
    runners = build_runners(choice_of(spec, "expectation"), spec.symbols)
    book = PaperBook(spec.trading, spec.symbols, market.timeframe_ms, risk=spec.risk,
                     gate=RiskEngine(spec.risk, guardian, spec.trading.initial_cash))
    curves, fills = [], 0
    for seq, a in enumerate(range(0, market.n_bars, step_bars)):
        cut = slice(a, min(a + step_bars, market.n_bars))
        batch = MarketBatch(seq, a, "EXPECTATION", market.symbols, market.timeframe_ms,
                            market.timestamp[cut], market.open[cut], market.high[cut],
                            market.low[cut], market.close[cut], market.volume[cut],
                            None if market.funding is None else market.funding[cut])
        outcome = book.step(batch, run_batch(runners, batch).signals)
        curves.append(np.asarray(outcome.equity, dtype=np.float64))
        fills += len(outcome.fills)
    equity = np.concatenate(curves) if curves else np.empty(0)
    previous = np.concatenate([[spec.trading.initial_cash], equity[:-1]])
    returns = np.where(previous > 0, equity / np.where(previous > 0, previous, 1.0) - 1.0,
                       np.nan)
    return Expectation(np.asarray(market.timestamp, dtype=np.int64), equity, returns, fills)


def expectation(spec: PolicySpec, candles: Sequence[Candles]) -> Expectation:
    """The policy's backtest on ``candles`` (see the module doc)."""
    market = MarketArrays.from_candles(list(candles))
    result = run_backtest(market, Targets(policy_targets(spec, candles)), spec.trading,
                          spec.risk)
    equity = result.portfolio_equity()
    returns = portfolio_returns(result)
    return Expectation(np.asarray(market.timestamp, dtype=np.int64), equity, returns,
                       len(result.orders))
