"""Performance summary of a backtest: the metrics of :mod:`core.metrics` in one dict."""

from __future__ import annotations

import math

import numpy as np

from core.backtest.layout import T_PNL
from core.backtest.result import BacktestResult
from core.data.timeframes import DAY_MS, YEAR_MS, periods_per_year
from core.metrics import (
    annual_volatility,
    average_trade,
    cagr,
    calmar_ratio,
    cvar,
    exposure,
    hit_rate,
    max_drawdown,
    max_drawdown_duration,
    profit_factor,
    sharpe_ratio,
    simple_returns,
    sortino_ratio,
    total_return,
    turnover,
)


def summarize_equity(equity: np.ndarray, timeframe_ms: int, *, trade_pnl: np.ndarray,
                     traded_notional: float, bars_in_market: float) -> dict[str, float]:
    """Every headline metric of one equity curve and its trades.

    Args:
        equity: Equity at each close (starting with the first bar's close).
        timeframe_ms: Bar length.
        trade_pnl: Net PnL of each closed or end-marked trade.
        traded_notional: Sum of |qty * price| over all fills.
        bars_in_market: Bars that ended with an open position (averaged over sleeves).

    Returns:
        A flat dict of floats (NaN where a metric is undefined, e.g. no trades).
    """
    returns = simple_returns(equity)
    ppy = periods_per_year(timeframe_ms)
    n = len(equity)
    years = max(n - 1, 1) * timeframe_ms / YEAR_MS
    duration_bars = max_drawdown_duration(equity)
    return {
        "start_equity": float(equity[0]),
        "end_equity": float(equity[-1]),
        "total_return": total_return(equity),
        "cagr": cagr(equity, timeframe_ms),
        "volatility": annual_volatility(returns, ppy),
        "sharpe": sharpe_ratio(returns, ppy),
        "sortino": sortino_ratio(returns, ppy),
        "calmar": calmar_ratio(equity, timeframe_ms),
        "max_drawdown": max_drawdown(equity),
        "max_drawdown_duration_bars": float(duration_bars),
        "max_drawdown_duration_days": duration_bars * timeframe_ms / DAY_MS,
        "turnover": turnover(traded_notional, float(np.mean(equity)), years),
        "exposure": exposure(int(round(bars_in_market)), n),
        "trades": float(len(trade_pnl)),
        "hit_rate": hit_rate(trade_pnl),
        "profit_factor": profit_factor(trade_pnl),
        "average_trade": average_trade(trade_pnl),
        "cvar_95": cvar(returns, 0.95),
    }


def summarize(result: BacktestResult, column: int | None = None) -> dict[str, float]:
    """Metrics of one column, or of all columns as sleeves of one account (``column=None``).

    The equity curve is anchored at the initial cash so the first bar's move counts.
    """
    if column is None:
        equity = result.portfolio_equity()
        start = result.initial_cash * result.n_columns
        pnl = result.trades[:, 1 + T_PNL]
        notional = float(result.stats[:, 1].sum())
        in_market = float(result.stats[:, 0].mean())
        fees, funding = float(result.stats[:, 3].sum()), float(result.stats[:, 4].sum())
    else:
        equity = result.equity[:, column]
        start = result.initial_cash
        pnl = result.column_trades(column)[:, T_PNL]
        notional = float(result.stats[column, 1])
        in_market = float(result.stats[column, 0])
        fees, funding = float(result.stats[column, 3]), float(result.stats[column, 4])
    anchored = np.concatenate([[start], equity])
    metrics = summarize_equity(anchored, result.timeframe_ms, trade_pnl=pnl,
                               traded_notional=notional, bars_in_market=in_market)
    metrics["exposure"] = exposure(int(round(in_market)), len(equity))
    metrics["fees"] = fees
    metrics["funding"] = funding
    metrics["bars"] = float(len(equity))
    return metrics


def buy_and_hold(close: np.ndarray, initial_cash: float) -> np.ndarray:
    """Equity of buying at the first close and holding (no costs), for comparison."""
    return initial_cash * close / close[0]


def clean(metrics: dict[str, float]) -> dict[str, float | str | None]:
    """Make the dict strict JSON: NaN (undefined) becomes None, infinities ``"inf"``/``"-inf"``."""
    cleaned: dict[str, float | str | None] = {}
    for key, value in metrics.items():
        if math.isnan(value):
            cleaned[key] = None
        elif math.isinf(value):
            cleaned[key] = "inf" if value > 0 else "-inf"
        else:
            cleaned[key] = value
    return cleaned
