"""The per-column simulation loop (numba, nogil): the exact semantics of the backtester.

Within bar ``i`` events happen in this order:

1. funding settles on the position carried into the bar, at the bar's open price;
2. the order decided at the close of bar ``i-1`` fills at the open of bar ``i`` (never at the
   bar that produced the signal);
3. stops are checked intrabar in the conservative order: for a long the low comes before the
   high (stop-loss before take-profit), for a short the high comes first; a gap through a
   level fills at the open;
4. equity is marked at the close (rebuilt afterwards by the equity replay);
5. if the equity is gone (<= 0 with a position, possible only with shorts) the position is
   liquidated at the next open; otherwise the instruction of bar ``i`` is read and, if it
   asks for a change, an order is sized with the equity at this close and scheduled for the
   next open; otherwise a due time stop is scheduled.

Instructions come either as target positions (``targets``: signed multiples of the sizing
unit, NaN = keep; an order is sent when the target *changes*) or as entry/exit signals
(acted on according to the current position, like vectorbt's ``from_signals``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.backtest.fills import (
    TR_ENTRY_BAR,
    TR_FUNDING,
    TR_HIGH,
    TR_LOW,
    TR_SIZE,
    TR_SL_LEVEL,
    TR_TP_LEVEL,
    apply_fill,
    record_trade,
    slippage_fraction,
)
from core.backtest.intrabar import NO_EXIT, check_stops, scan_extremes
from core.backtest.layout import (
    N_ORDER_FIELDS,
    N_STATS,
    N_TRADE_FIELDS,
    P_ALLOW_SHORT,
    P_INIT_CASH,
    P_LOT_SIZE,
    P_MAKER_FEE,
    P_MIN_NOTIONAL,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TAKER_FEE,
    P_TIME_STOP,
    REASON_END_OF_DATA,
    REASON_LIQUIDATION,
    REASON_SIGNAL,
    REASON_STOP_LOSS,
    REASON_TIME_STOP,
    S_BARS_IN_MARKET,
    S_FUNDING,
    S_REJECTED,
)
from core.backtest.sizing import half_spread, order_quantity, quantize, size_notional

CHUNK = 8192
"""Bars per inner loop; buffers grow only between chunks (a bar makes at most 2 fills)."""


@njit(cache=True, nogil=True)
def _ensure_rows(buffer: np.ndarray, used: int, needed: int) -> np.ndarray:
    """``buffer`` or a larger copy of its first ``used`` rows (never the untouched rest)."""
    if needed <= buffer.shape[0]:
        return buffer
    bigger = np.empty((max(needed, 2 * buffer.shape[0]), buffer.shape[1]))
    bigger[:used] = buffer[:used]
    return bigger


@njit(cache=True, nogil=True)
def simulate_column(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    spread: np.ndarray,
    funding: np.ndarray,
    vol: np.ndarray,
    targets: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    short_entries: np.ndarray,
    short_exits: np.ndarray,
    p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one column and return (orders, trades, stats).

    Optional inputs (``spread``, ``funding``, ``vol``, the short signals, and whichever of
    ``targets`` / ``entries``+``exits`` is unused) are passed as empty arrays. The equity
    curve is not written here: :func:`core.backtest.equity.replay_equity` rebuilds it from
    the fills with the same arithmetic, so the loop touches as little memory as possible.
    """
    n = close.shape[0]
    target_mode = targets.shape[0] > 0
    has_shorts = short_entries.shape[0] > 0
    has_spread = spread.shape[0] > 0
    has_funding = funding.shape[0] > 0
    allow_short = p[P_ALLOW_SHORT] > 0.5
    use_sl = p[P_STOP_LOSS] > 0.0
    use_tp = p[P_TAKE_PROFIT] > 0.0
    walk_bars = use_sl or use_tp  # stops need the bar-by-bar path; else extremes are scanned
    time_stop = p[P_TIME_STOP]
    taker = p[P_TAKER_FEE]
    maker = p[P_MAKER_FEE]

    orders = np.empty((64, N_ORDER_FIELDS))
    trades = np.empty((64, N_TRADE_FIELDS))
    stats = np.zeros(N_STATS)
    tr = np.zeros(TR_SIZE)
    n_orders = 0
    n_trades = 0
    cash = p[P_INIT_CASH]
    pos = 0.0
    pending = False
    pend_target = 0.0
    pend_notional = 0.0
    pend_equity = 0.0
    pend_reason = REASON_SIGNAL
    last_target = np.nan
    # Hot per-trade state lives in locals; ``tr`` is synced only around fills.
    trade_high = 0.0
    trade_low = 0.0
    sl_level = 0.0
    tp_level = 0.0
    entry_bar = 0.0
    scanned_to = 0  # without stops, extremes cover whole bars [entry, scanned_to)
    bars_in_market = 0.0

    for chunk_start in range(0, n, CHUNK):
        chunk_stop = min(chunk_start + CHUNK, n)
        orders = _ensure_rows(orders, n_orders, n_orders + 2 * (chunk_stop - chunk_start) + 2)
        trades = _ensure_rows(trades, n_trades, n_trades + 2 * (chunk_stop - chunk_start) + 2)
        for i in range(chunk_start, chunk_stop):
            if pending or pos != 0.0:
                if has_funding and pos != 0.0 and funding[i] != 0.0:
                    payment = pos * open_[i] * funding[i]
                    cash -= payment
                    tr[TR_FUNDING] += payment
                    stats[S_FUNDING] += payment

                if pending:
                    pending = False
                    o = open_[i]
                    if pos != 0.0:  # the position is still held at this open
                        if not walk_bars:
                            trade_high, trade_low = scan_extremes(high, low, scanned_to, i,
                                                                  trade_high, trade_low)
                        trade_high = max(trade_high, o)
                        trade_low = min(trade_low, o)
                    dq = order_quantity(pend_target, pend_notional, pend_equity, o, pos, p)
                    if dq != 0.0:
                        spread_part = half_spread(i, spread, close, has_spread, p)
                        ref_volume = volume[i - 1]
                        qty = abs(dq)
                        side = 1.0 if dq > 0.0 else -1.0
                        slip = slippage_fraction(qty, ref_volume, spread_part, p)
                        price = o * (1.0 + side * slip)
                        if dq > 0.0 and pos + dq > 0.0 and dq * price * (1.0 + taker) > cash:
                            cover = max(-pos, 0.0)
                            affordable = max(cash, 0.0) / (price * (1.0 + taker))
                            qty = max(quantize(max(affordable, cover), p[P_LOT_SIZE]), cover)
                            slip = slippage_fraction(qty, ref_volume, spread_part, p)
                            price = o * (1.0 + slip)
                            if qty > cover and (qty - cover) * o < p[P_MIN_NOTIONAL]:
                                qty = cover
                            dq = qty
                        if qty > 0.0:
                            tr[TR_HIGH] = trade_high
                            tr[TR_LOW] = trade_low
                            cash, pos, n_orders, n_trades = apply_fill(
                                i, dq, price, qty * price * taker, qty * abs(price - o),
                                pend_reason, False, cash, pos, tr, orders, n_orders, trades,
                                n_trades, stats, p)
                            trade_high = tr[TR_HIGH]
                            trade_low = tr[TR_LOW]
                            sl_level = tr[TR_SL_LEVEL]
                            tp_level = tr[TR_TP_LEVEL]
                            entry_bar = tr[TR_ENTRY_BAR]
                            scanned_to = i
                        else:
                            stats[S_REJECTED] += 1.0
                    elif pend_target != 0.0 or pos != 0.0:
                        stats[S_REJECTED] += 1.0

                if pos != 0.0 and walk_bars:
                    reason, level, trade_high, trade_low = check_stops(
                        pos > 0.0, open_, i, high[i], low[i], sl_level, tp_level, use_sl,
                        use_tp, trade_high, trade_low)
                    if reason != NO_EXIT:
                        tr[TR_HIGH] = trade_high
                        tr[TR_LOW] = trade_low
                        qty = abs(pos)
                        if reason == REASON_STOP_LOSS:
                            spread_part = half_spread(i, spread, close, has_spread, p)
                            slip = slippage_fraction(qty, volume[i - 1], spread_part, p)
                            side = 1.0 if pos > 0.0 else -1.0
                            price = level * (1.0 - side * slip)
                            fee = qty * price * taker
                            slip_cost = qty * abs(price - level)
                        else:
                            price = level
                            fee = qty * price * maker
                            slip_cost = 0.0
                        cash, pos, n_orders, n_trades = apply_fill(
                            i, -pos, price, fee, slip_cost, reason, reason != REASON_STOP_LOSS,
                            cash, pos, tr, orders, n_orders, trades, n_trades, stats, p)
                if pos != 0.0:
                    bars_in_market += 1.0
                    # Ruin (possible only with shorts: spot buys are limited by cash): a
                    # position whose equity is gone is liquidated at the next open.
                    if allow_short and cash + pos * close[i] <= 0.0:
                        pending = True
                        pend_target = 0.0
                        pend_reason = REASON_LIQUIDATION
                        continue

            request = False
            target = 0.0
            if target_mode:
                value = targets[i]
                if value == value and value != last_target:
                    last_target = value
                    request = True
                    target = value if (allow_short or value > 0.0) else 0.0
            else:
                entry = entries[i]
                exit_ = exits[i]
                if entry != exit_:
                    if entry:
                        if pos <= 0.0:
                            request = True
                            target = 1.0
                    elif pos > 0.0:
                        request = True
                if has_shorts:
                    short_entry = short_entries[i] and allow_short
                    short_exit = short_exits[i]
                    if short_entry != short_exit:
                        long_in = entry and not exit_
                        if short_entry:
                            if long_in:
                                request = False
                            elif pos >= 0.0:
                                request = True
                                target = -1.0
                        elif pos < 0.0 and not request:
                            request = True

            if request:
                if target == 0.0:
                    if pos != 0.0:
                        pending = True
                        pend_target = 0.0
                        pend_reason = REASON_SIGNAL
                else:
                    equity = cash + pos * close[i] if pos != 0.0 else cash
                    v = vol[i] if vol.shape[0] > 0 else np.nan
                    notional = size_notional(target, equity, v, p)
                    if notional == notional:
                        pending = True
                        pend_target = target
                        pend_notional = notional
                        pend_equity = equity
                        pend_reason = REASON_SIGNAL
                    else:
                        stats[S_REJECTED] += 1.0
            if (not pending and time_stop > 0.0 and pos != 0.0
                    and i - entry_bar + 1.0 >= time_stop):
                pending = True
                pend_target = 0.0
                pend_reason = REASON_TIME_STOP

    stats[S_BARS_IN_MARKET] = bars_in_market
    if pos != 0.0:
        if not walk_bars:
            trade_high, trade_low = scan_extremes(high, low, scanned_to, n, trade_high, trade_low)
        tr[TR_HIGH] = trade_high
        tr[TR_LOW] = trade_low
        trades = _ensure_rows(trades, n_trades, n_trades + 1)
        n_trades = record_trade(tr, trades, n_trades, n - 1, REASON_END_OF_DATA,
                                close[n - 1], abs(pos))
    return orders[:n_orders].copy(), trades[:n_trades].copy(), stats
