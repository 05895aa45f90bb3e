"""Behaviour descriptors of a backtested alpha: the axes of the MAP-Elites grid.

Three numbers describe *how* an alpha trades, whatever its score (all over the whole
backtest, warm-up included, every column of the backtest together):

* **turnover** — annualised: traded notional of all fills (both sides count) / mean
  portfolio equity / years, with ``years = n_bars * bar length / 365 days``
  (:func:`core.metrics.turnover` on the backtester's ``traded_notional`` statistics).
* **holding** — ``log1p`` of the average holding period in bars: bars that ended with an
  open position (summed over columns) / number of trades (round trips, the one still open
  at the end included). The log spreads 1-bar scalpers and month-long holds over the same
  axis (``ArchiveConfig.holding`` is in these units).
* **correlation** — Pearson correlation of each column's per-bar strategy returns
  (close-to-close equity changes) with its asset's close-to-close returns (buy-and-hold),
  averaged over the columns where it is defined (a column that never moves has none);
  0.0 when no column has one.
"""

from __future__ import annotations

import math

import numpy as np

from core.backtest.layout import S_BARS_IN_MARKET, S_TRADED_NOTIONAL
from core.backtest.result import BacktestResult
from core.data.timeframes import YEAR_MS
from core.metrics import turnover

__all__ = [
    "annual_turnover",
    "average_holding_bars",
    "buy_and_hold_correlation",
    "column_returns",
    "describe",
    "portfolio_returns",
]


def column_returns(result: BacktestResult) -> np.ndarray:
    """Per-bar returns of each column, ``(n_bars, n_columns)``, anchored at the initial cash.

    Row ``i`` is the equity change from close ``i - 1`` to close ``i`` (row 0 from the
    initial cash to the first close), so rows line up with bars.
    """
    equity = result.equity
    previous = np.empty_like(equity)
    previous[0] = result.initial_cash
    previous[1:] = equity[:-1]
    out = np.full(equity.shape, np.nan)
    ok = previous > 0.0
    out[ok] = equity[ok] / previous[ok] - 1.0
    return out


def portfolio_returns(result: BacktestResult) -> np.ndarray:
    """Per-bar returns of all columns as sleeves of one account, shape ``(n_bars,)``."""
    equity = result.portfolio_equity()
    previous = np.empty_like(equity)
    previous[0] = result.initial_cash * result.n_columns
    previous[1:] = equity[:-1]
    out = np.full(equity.shape, np.nan)
    ok = previous > 0.0
    out[ok] = equity[ok] / previous[ok] - 1.0
    return out


def annual_turnover(result: BacktestResult) -> float:
    """Traded notional of every column / mean portfolio equity / years (NaN without bars)."""
    n = len(result.timestamp)
    if n == 0:
        return math.nan
    years = n * result.timeframe_ms / YEAR_MS
    notional = float(result.stats[:, S_TRADED_NOTIONAL].sum())
    return turnover(notional, float(np.mean(result.portfolio_equity())), years)


def average_holding_bars(result: BacktestResult) -> float:
    """Bars in the market (summed over columns) per trade; NaN without trades."""
    n_trades = len(result.trades)
    if n_trades == 0:
        return math.nan
    return float(result.stats[:, S_BARS_IN_MARKET].sum()) / n_trades


def buy_and_hold_correlation(result: BacktestResult, returns: np.ndarray | None = None
                             ) -> float:
    """Mean correlation of the columns' strategy returns with their assets' returns.

    Args:
        result: The backtest.
        returns: Its :func:`column_returns` if already computed.

    Returns:
        The average over columns with a defined correlation, in ``[-1, 1]``; 0.0 if none.
    """
    strategy = column_returns(result) if returns is None else returns
    close = result.market.close
    values = []
    for j, m in enumerate(result.price_columns):
        asset = close[1:, m] / close[:-1, m] - 1.0
        mine = strategy[1:, j]
        keep = np.isfinite(asset) & np.isfinite(mine)
        if keep.sum() < 3:
            continue
        a, b = asset[keep], mine[keep]
        a = a - a.mean()
        b = b - b.mean()
        denominator = math.sqrt(float(a @ a) * float(b @ b))
        if denominator > 0.0:
            values.append(min(max(float(a @ b) / denominator, -1.0), 1.0))
    return float(np.mean(values)) if values else 0.0


def describe(result: BacktestResult, returns: np.ndarray | None = None
             ) -> tuple[float, float, float]:
    """The archive measures ``(turnover, log1p(holding bars), correlation)`` of a backtest.

    Args:
        result: The backtest.
        returns: Its :func:`column_returns` if already computed.

    Returns:
        The three measures (unclipped; the holding term is NaN without trades).
    """
    return (annual_turnover(result), math.log1p(average_holding_bars(result)),
            buy_and_hold_correlation(result, returns))
