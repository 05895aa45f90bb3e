"""Fill model and trade bookkeeping used by the kernel (numba, nogil).

One fill model serves backtest, SIM, paper trading and candidates: market orders fill at the
reference price moved by slippage (half-spread + volume impact, capped) and pay the taker fee;
take-profit limit orders fill at their level (or a better gap open) and pay the maker fee.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.backtest.layout import (
    O_BAR,
    O_CASH,
    O_FEE,
    O_MAKER,
    O_POSITION,
    O_PRICE,
    O_QTY,
    O_REASON,
    O_SIDE,
    O_SLIPPAGE,
    P_IMPACT_COEF,
    P_IMPACT_EXP,
    P_MAX_SLIP,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    S_FEES,
    S_TRADED_NOTIONAL,
    T_DIRECTION,
    T_ENTRY_BAR,
    T_ENTRY_PRICE,
    T_EXIT_BAR,
    T_EXIT_PRICE,
    T_EXIT_REASON,
    T_FEES,
    T_FUNDING,
    T_IS_OPEN,
    T_MAE,
    T_MFE,
    T_PNL,
    T_QTY,
    T_RETURN,
    T_SLIPPAGE,
)

# Slots of the open-trade state vector.
TR_ENTRY_BAR = 0
TR_DIR = 1
TR_QTY_OPENED = 2
TR_ENTRY_VALUE = 3  # sum of qty * price over entry fills
TR_AVG = 4  # average price of the quantity still open
TR_FEES = 5
TR_SLIPPAGE = 6
TR_FUNDING = 7
TR_REALIZED = 8  # gross price PnL realised by reductions
TR_EXIT_QTY = 9
TR_EXIT_VALUE = 10
TR_HIGH = 11  # highest price seen while open
TR_LOW = 12  # lowest price seen while open
TR_SL_LEVEL = 13
TR_TP_LEVEL = 14
TR_SIZE = 15

_FLAT_EPS = 1e-12


@njit(cache=True, nogil=True)
def slippage_fraction(qty: float, ref_volume: float, half_spread: float, p: np.ndarray) -> float:
    """Slippage as a fraction of price: half-spread + impact(qty / volume), capped."""
    impact = 0.0
    if p[P_IMPACT_COEF] > 0.0:
        if ref_volume > 0.0:
            impact = p[P_IMPACT_COEF] * (qty / ref_volume) ** p[P_IMPACT_EXP]
        else:
            impact = p[P_MAX_SLIP]
    return min(half_spread + impact, p[P_MAX_SLIP])


@njit(cache=True, nogil=True)
def _open_trade(tr: np.ndarray, bar: int, direction: float, qty: float, price: float,
                fee: float, slip_cost: float, p: np.ndarray) -> None:
    tr[TR_ENTRY_BAR] = bar
    tr[TR_DIR] = direction
    tr[TR_QTY_OPENED] = qty
    tr[TR_ENTRY_VALUE] = qty * price
    tr[TR_AVG] = price
    tr[TR_FEES] = fee
    tr[TR_SLIPPAGE] = slip_cost
    tr[TR_FUNDING] = 0.0
    tr[TR_REALIZED] = 0.0
    tr[TR_EXIT_QTY] = 0.0
    tr[TR_EXIT_VALUE] = 0.0
    tr[TR_HIGH] = price
    tr[TR_LOW] = price
    _set_stop_levels(tr, p)


@njit(cache=True, nogil=True)
def _set_stop_levels(tr: np.ndarray, p: np.ndarray) -> None:
    direction = tr[TR_DIR]
    tr[TR_SL_LEVEL] = tr[TR_AVG] * (1.0 - direction * p[P_STOP_LOSS])
    tr[TR_TP_LEVEL] = tr[TR_AVG] * (1.0 + direction * p[P_TAKE_PROFIT])


@njit(cache=True, nogil=True)
def record_trade(tr: np.ndarray, trades: np.ndarray, n_trades: int, exit_bar: int,
                 reason: int, mark_price: float, mark_qty: float) -> int:
    """Write the trade held in ``tr`` as row ``n_trades``; returns the new trade count.

    ``mark_qty`` > 0 marks a still-open remainder at ``mark_price`` (end of data).
    """
    direction = tr[TR_DIR]
    exit_qty = tr[TR_EXIT_QTY] + mark_qty
    exit_value = tr[TR_EXIT_VALUE] + mark_qty * mark_price
    gross = tr[TR_REALIZED] + direction * (mark_price - tr[TR_AVG]) * mark_qty
    pnl = gross - tr[TR_FEES] - tr[TR_FUNDING]
    entry_price = tr[TR_ENTRY_VALUE] / tr[TR_QTY_OPENED]
    row = trades[n_trades]
    row[T_ENTRY_BAR] = tr[TR_ENTRY_BAR]
    row[T_EXIT_BAR] = exit_bar
    row[T_DIRECTION] = direction
    row[T_QTY] = tr[TR_QTY_OPENED]
    row[T_ENTRY_PRICE] = entry_price
    row[T_EXIT_PRICE] = exit_value / exit_qty
    row[T_PNL] = pnl
    row[T_RETURN] = pnl / tr[TR_ENTRY_VALUE]
    row[T_FEES] = tr[TR_FEES]
    row[T_SLIPPAGE] = tr[TR_SLIPPAGE]
    row[T_FUNDING] = tr[TR_FUNDING]
    if direction > 0:
        row[T_MAE] = tr[TR_LOW] / entry_price - 1.0
        row[T_MFE] = tr[TR_HIGH] / entry_price - 1.0
    else:
        row[T_MAE] = 1.0 - tr[TR_HIGH] / entry_price
        row[T_MFE] = 1.0 - tr[TR_LOW] / entry_price
    row[T_EXIT_REASON] = reason
    row[T_IS_OPEN] = 1.0 if mark_qty > 0.0 else 0.0
    return n_trades + 1


@njit(cache=True, nogil=True)
def apply_fill(bar: int, dq: float, price: float, fee: float, slip_cost: float, reason: int,
               maker: bool, cash: float, pos: float, tr: np.ndarray, orders: np.ndarray,
               n_orders: int, trades: np.ndarray, n_trades: int, stats: np.ndarray,
               p: np.ndarray) -> tuple[float, float, int, int]:
    """Book a fill of signed quantity ``dq`` at ``price``; returns (cash, pos, n_orders, n_trades).

    The caller guarantees room for one more order row and one more trade row.
    """
    qty = abs(dq)
    cash -= dq * price + fee
    new_pos = pos + dq
    if abs(new_pos) <= _FLAT_EPS * max(abs(pos), qty):
        new_pos = 0.0
    row = orders[n_orders]
    row[O_BAR] = bar
    row[O_SIDE] = 1.0 if dq > 0.0 else -1.0
    row[O_QTY] = qty
    row[O_PRICE] = price
    row[O_FEE] = fee
    row[O_SLIPPAGE] = slip_cost
    row[O_REASON] = reason
    row[O_MAKER] = 1.0 if maker else 0.0
    row[O_POSITION] = new_pos
    row[O_CASH] = cash
    n_orders += 1
    stats[S_TRADED_NOTIONAL] += qty * price
    stats[S_FEES] += fee

    if pos == 0.0:
        _open_trade(tr, bar, 1.0 if dq > 0.0 else -1.0, qty, price, fee, slip_cost, p)
    elif (pos > 0.0) == (dq > 0.0):
        held = abs(pos)
        tr[TR_AVG] = (tr[TR_AVG] * held + price * qty) / (held + qty)
        tr[TR_QTY_OPENED] += qty
        tr[TR_ENTRY_VALUE] += qty * price
        tr[TR_FEES] += fee
        tr[TR_SLIPPAGE] += slip_cost
        _set_stop_levels(tr, p)
    else:
        closing = min(qty, abs(pos))
        share = closing / qty
        tr[TR_REALIZED] += tr[TR_DIR] * (price - tr[TR_AVG]) * closing
        tr[TR_FEES] += fee * share
        tr[TR_SLIPPAGE] += slip_cost * share
        tr[TR_EXIT_QTY] += closing
        tr[TR_EXIT_VALUE] += closing * price
        if new_pos == 0.0 or (new_pos > 0.0) != (pos > 0.0):
            n_trades = record_trade(tr, trades, n_trades, bar, reason, price, 0.0)
            if new_pos != 0.0:
                _open_trade(tr, bar, 1.0 if new_pos > 0.0 else -1.0, abs(new_pos), price,
                            fee * (1.0 - share), slip_cost * (1.0 - share), p)
    return cash, new_pos, n_orders, n_trades

