"""The outcome of a backtest: equity per column, orders, trades and per-column statistics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from core.backtest.equity import replay_equity, replay_sharpe
from core.backtest.layout import (
    ORDER_COLUMNS,
    REASON_NAMES,
    STAT_COLUMNS,
    T_ENTRY_BAR,
    T_EXIT_BAR,
    TRADE_COLUMNS,
)
from core.backtest.market import MarketArrays
from core.data.timeframes import periods_per_year

if TYPE_CHECKING:  # pandas loads only where frames are asked for
    import pandas as pd


@dataclass(frozen=True)
class BacktestResult:
    """Raw outputs of :func:`core.backtest.engine.run_backtest`.

    Orders and trades are float64 matrices whose first column is the column index and whose
    other columns follow :data:`core.backtest.layout.ORDER_COLUMNS` /
    :data:`~core.backtest.layout.TRADE_COLUMNS`; the ``*_frame`` methods give labelled
    DataFrames with timestamps and reason names.

    The equity curve is rebuilt from the fills on first access (see :attr:`equity`).

    Attributes:
        timestamp: Bar open times (ms UTC), shape ``(n_bars,)``.
        orders: Fills, shape ``(n_orders, 1 + len(ORDER_COLUMNS))``, by column then time.
        trades: Round trips, shape ``(n_trades, 1 + len(TRADE_COLUMNS))``.
        stats: Per-column statistics, shape ``(n_columns, len(STAT_COLUMNS))``.
        columns: Name of each column.
        initial_cash: Starting cash of every column.
        timeframe_ms: Bar length in ms.
        market: The prices the columns were simulated on.
        price_columns: Market column used by each simulated column.
    """

    timestamp: np.ndarray
    orders: np.ndarray
    trades: np.ndarray
    stats: np.ndarray
    columns: tuple[str, ...]
    initial_cash: float
    timeframe_ms: int
    market: MarketArrays
    price_columns: tuple[int, ...]

    @property
    def n_columns(self) -> int:
        """Number of simulated columns."""
        return len(self.columns)

    @cached_property
    def equity(self) -> np.ndarray:
        """Mark-to-market equity at each close, shape ``(n_bars, n_columns)`` (F-order)."""
        n = len(self.timestamp)
        curves = np.empty((n, self.n_columns), order="F")
        empty = np.empty(0)
        for j, m in enumerate(self.price_columns):
            funding = empty if self.market.funding is None else self.market.funding[:, m]
            curves[:, j] = replay_equity(
                self.market.open[:, m], self.market.close[:, m], funding,
                np.ascontiguousarray(_rows_of(self.orders, j)), self.initial_cash,
            )
        curves.setflags(write=False)
        return curves

    def sharpe(self, column: int) -> float:
        """Annualised Sharpe ratio of column ``column``'s equity, computed from the fills.

        The same number as ``core.metrics.sharpe_ratio`` on the equity curve, without
        building the curve (the fast path for scoring many alphas).
        """
        m = self.price_columns[column]
        funding = np.empty(0) if self.market.funding is None else self.market.funding[:, m]
        return float(replay_sharpe(
            self.market.open[:, m], self.market.close[:, m], funding,
            np.ascontiguousarray(_rows_of(self.orders, column)), self.initial_cash,
            periods_per_year(self.timeframe_ms)))

    def orders_frame(self) -> pd.DataFrame:
        """Fills as a DataFrame with ``column``, ``timestamp`` and a readable ``reason``."""
        import pandas as pd

        frame = pd.DataFrame(self.orders, columns=("column", *ORDER_COLUMNS))
        frame = frame.astype({"column": np.int64, "bar": np.int64, "side": np.int64,
                              "maker": bool})
        frame.insert(2, "timestamp", self.timestamp[frame["bar"].to_numpy()])
        frame["reason"] = [REASON_NAMES[int(code)] for code in frame["reason"]]
        frame.insert(1, "symbol", [self.columns[j] for j in frame["column"]])
        return frame

    def trades_frame(self) -> pd.DataFrame:
        """Round trips as a DataFrame with entry/exit timestamps and a readable exit reason."""
        import pandas as pd

        frame = pd.DataFrame(self.trades, columns=("column", *TRADE_COLUMNS))
        frame = frame.astype({"column": np.int64, "entry_bar": np.int64, "exit_bar": np.int64,
                              "direction": np.int64, "is_open": bool})
        frame.insert(3, "entry_time", self.timestamp[self.trades[:, 1 + T_ENTRY_BAR]
                                                     .astype(np.int64)])
        frame.insert(5, "exit_time", self.timestamp[self.trades[:, 1 + T_EXIT_BAR]
                                                    .astype(np.int64)])
        frame["exit_reason"] = [REASON_NAMES[int(code)] for code in frame["exit_reason"]]
        frame.insert(1, "symbol", [self.columns[j] for j in frame["column"]])
        return frame

    def stats_frame(self) -> pd.DataFrame:
        """Per-column statistics (bars in market, traded notional, rejected orders, ...)."""
        import pandas as pd

        return pd.DataFrame(self.stats, columns=STAT_COLUMNS, index=list(self.columns))

    def column_trades(self, j: int) -> np.ndarray:
        """Trade rows (without the column index) of column ``j``."""
        return _rows_of(self.trades, j)

    def portfolio_equity(self) -> np.ndarray:
        """Equity of all columns together (columns as sleeves of one account)."""
        return self.equity.sum(axis=1)


def _rows_of(records: np.ndarray, column: int) -> np.ndarray:
    """The rows of ``column`` (without the index) from records sorted by column."""
    index = records[:, 0]
    lo, hi = np.searchsorted(index, [column, column + 1])
    return records[lo:hi, 1:]
