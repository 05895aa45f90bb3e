"""Run the numba kernel over many columns, optionally on several threads (nogil)."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest.instructions import Instructions, Signals, Targets
from core.backtest.kernel import simulate_column
from core.backtest.layout import N_ORDER_FIELDS, N_TRADE_FIELDS
from core.backtest.market import MarketArrays
from core.backtest.params import build_params
from core.backtest.result import BacktestResult
from core.backtest.volatility import realized_volatility
from core.data.timeframes import periods_per_year
from core.errors import BacktestError

_EMPTY_F = np.empty(0)
_EMPTY_B = np.empty(0, dtype=np.bool_)


def run_backtest(
    market: MarketArrays,
    instructions: Instructions,
    config: BacktestConfig,
    risk: RiskLimits | None = None,
    *,
    n_threads: int = 1,
    column_names: tuple[str, ...] | None = None,
) -> BacktestResult:
    """Backtest every instruction column against its price column.

    Args:
        market: Prices; either one column per instruction column or a single shared column.
        instructions: :class:`Targets` or :class:`Signals` of shape ``(n_bars, k)``.
        config: Costs, sizing, stops, filters and direction.
        risk: Effective risk limits capping position, order and per-trade risk; None = none.
        n_threads: Worker threads; columns are independent and the kernel releases the GIL.
        column_names: Names of the instruction columns (default: the market's symbols).

    Returns:
        The equity curves, orders, trades and statistics of every column.

    Raises:
        BacktestError: If shapes do not line up or ``n_threads`` < 1.
    """
    n, k = instructions.shape
    if n != market.n_bars:
        raise BacktestError(f"instructions have {n} bars, market has {market.n_bars}")
    if market.n_columns not in (1, k):
        raise BacktestError(
            f"market has {market.n_columns} price columns for {k} instruction columns; "
            "give one shared column or one per instruction column"
        )
    if n_threads < 1:
        raise BacktestError(f"n_threads must be >= 1, got {n_threads}")
    names = column_names or (market.symbols if market.n_columns == k
                             else tuple(f"{market.symbols[0]}#{j}" for j in range(k)))
    if len(names) != k:
        raise BacktestError(f"{len(names)} column names for {k} columns")

    params = build_params(config, risk)
    vol = _volatility(market, config)
    price_columns = tuple(j if market.n_columns == k else 0 for j in range(k))

    def run(j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = price_columns[j]
        targets = _EMPTY_F
        entries = exits = short_entries = short_exits = _EMPTY_B
        if isinstance(instructions, Targets):
            targets = instructions.values[:, j]
        elif isinstance(instructions, Signals):
            entries, exits = instructions.entries[:, j], instructions.exits[:, j]
            if instructions.short_entries is not None:
                short_entries = instructions.short_entries[:, j]
                short_exits = instructions.short_exits[:, j]  # type: ignore[index]
        return simulate_column(
            market.open[:, m], market.high[:, m], market.low[:, m], market.close[:, m],
            market.volume[:, m],
            _EMPTY_F if market.spread is None else market.spread[:, m],
            _EMPTY_F if market.funding is None else market.funding[:, m],
            _EMPTY_F if vol is None else vol[:, m],
            targets, entries, exits, short_entries, short_exits, params,
        )

    if n_threads == 1 or k == 1:
        outputs = [run(j) for j in range(k)]
    else:
        outputs = list(_pool(min(n_threads, k)).map(run, range(k)))

    return BacktestResult(
        timestamp=market.timestamp,
        orders=_stack([o for o, _, _ in outputs], N_ORDER_FIELDS),
        trades=_stack([t for _, t, _ in outputs], N_TRADE_FIELDS),
        stats=np.vstack([s for _, _, s in outputs]),
        columns=tuple(names),
        initial_cash=config.initial_cash,
        timeframe_ms=market.timeframe_ms,
        market=market,
        price_columns=price_columns,
    )


def _volatility(market: MarketArrays, config: BacktestConfig) -> np.ndarray | None:
    if config.sizing.method != "vol_target":
        return None
    ppy = periods_per_year(market.timeframe_ms)
    lookback = config.sizing.vol_lookback_bars
    return np.column_stack([
        realized_volatility(market.close[:, j], lookback, ppy) for j in range(market.n_columns)
    ])


def _stack(blocks: list[np.ndarray], n_fields: int) -> np.ndarray:
    """One matrix of all columns' records, sorted by column, with the column index first."""
    out = np.empty((sum(len(block) for block in blocks), 1 + n_fields))
    row = 0
    for j, block in enumerate(blocks):
        out[row : row + len(block), 0] = j
        out[row : row + len(block), 1:] = block
        row += len(block)
    return out


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool per size: the kernel releases the GIL, so threads run in parallel."""
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backtest")
