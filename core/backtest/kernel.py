"""The per-column simulation loop (numba, nogil): the exact semantics of the backtester.

Within bar ``i`` events happen in this order:

1. funding settles on the position carried into the bar, at the bar's open price;
2. the order decided at the close of bar ``i-1`` fills at the open of bar ``i`` (never at the
   bar that produced the signal);
3. stops are checked intrabar in the conservative order: for a long the low comes before the
   high (stop-loss before take-profit), for a short the high comes first; a gap through a
   level fills at the open;
4. equity is marked at the close (rebuilt afterwards by the equity replay);
5. the instruction of bar ``i`` is read and, if it asks for a change, an order is sized with
   the equity at this close and scheduled for the next open; otherwise a due time stop is
   scheduled.

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
from core.backtest.layout import (
    N_ORDER_FIELDS,
    N_STATS,
    N_TRADE_FIELDS,
    P_ALLOW_SHORT,
    P_FRACTION,
    P_HALF_SPREAD,
    P_INIT_CASH,
    P_LOT_SIZE,
    P_MAKER_FEE,
    P_MAX_LEVERAGE,
    P_MAX_POSITION,
    P_MAX_TRADE,
    P_MIN_NOTIONAL,
    P_NOTIONAL,
    P_RISK_PER_TRADE,
    P_SIZING,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TAKER_FEE,
    P_TIME_STOP,
    P_VOL_TARGET,
    REASON_END_OF_DATA,
    REASON_SIGNAL,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TIME_STOP,
    S_BARS_IN_MARKET,
    S_FUNDING,
    S_REJECTED,
    SIZING_FIXED_FRACTION,
    SIZING_VOL_TARGET,
)


@njit(cache=True, nogil=True)
def size_notional(target: float, equity: float, vol: float, p: np.ndarray) -> float:
    """Signed quote notional wanted for ``target`` at the decision bar; NaN if it cannot be sized.

    Nothing can be sized from a non-positive equity (a ruined account opens nothing).

    The sizing rule's notional is capped by the max-position fraction and, when a stop-loss
    is set, by the per-trade risk (loss at the stop <= risk fraction of equity).
    """
    if not (equity > 0.0):
        return np.nan
    method = int(p[P_SIZING])
    if method == SIZING_FIXED_FRACTION:
        notional = target * p[P_FRACTION] * equity
    elif method == SIZING_VOL_TARGET:
        if not (vol > 0.0) or not np.isfinite(vol):
            return np.nan
        notional = target * equity * min(p[P_VOL_TARGET] / vol, p[P_MAX_LEVERAGE])
    else:
        notional = target * p[P_NOTIONAL]
    cap = p[P_MAX_POSITION] * equity
    if p[P_STOP_LOSS] > 0.0:
        cap = min(cap, p[P_RISK_PER_TRADE] * equity / p[P_STOP_LOSS])
    if abs(notional) > cap:
        notional = cap if notional > 0.0 else -cap
    return notional


@njit(cache=True, nogil=True)
def _half_spread(i: int, spread: np.ndarray, close: np.ndarray, has_spread: bool,
                 p: np.ndarray) -> float:
    """Half-spread fraction known at the decision bar ``i - 1`` (data column or setting)."""
    if has_spread:
        return 0.5 * spread[i - 1] / close[i - 1]
    return p[P_HALF_SPREAD]


@njit(cache=True, nogil=True)
def _quantize(qty: float, lot: float) -> float:
    if lot <= 0.0:
        return qty
    return np.floor(qty / lot + 1e-9) * lot


@njit(cache=True, nogil=True)
def _order_quantity(target: float, notional: float, equity: float, price: float, pos: float,
                    p: np.ndarray) -> float:
    """Signed quantity of the order that moves ``pos`` toward the scheduled target; 0 = none."""
    if target == 0.0:
        return -pos
    desired = notional / price
    dq = desired - pos
    growing = desired * pos < 0.0 or abs(desired) > abs(pos)
    if growing:
        if equity <= 0.0:
            return 0.0
        cap = p[P_MAX_TRADE] * equity / price
        if abs(dq) > cap:
            dq = cap if dq > 0.0 else -cap
    qty = _quantize(abs(dq), p[P_LOT_SIZE])
    if qty * price < p[P_MIN_NOTIONAL] or qty <= 0.0:
        return 0.0
    return qty if dq > 0.0 else -qty


@njit(cache=True, nogil=True)
def count_events(targets: np.ndarray, entries: np.ndarray, exits: np.ndarray,
                 short_entries: np.ndarray, short_exits: np.ndarray) -> int:
    """Upper bound of the order requests a column can make (target changes or signal bars)."""
    count = 0
    if targets.shape[0] > 0:
        last = np.nan
        for value in targets:
            if value == value and value != last:
                count += 1
                last = value
        return count
    has_shorts = short_entries.shape[0] > 0
    for i in range(entries.shape[0]):
        if entries[i] or exits[i] or (has_shorts and (short_entries[i] or short_exits[i])):
            count += 1
    return count


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

    The equity curve is not written here: :func:`core.backtest.equity.replay_equity` rebuilds
    it from the fills with the same arithmetic, so the loop touches as little memory as
    possible.

    Optional inputs (``spread``, ``funding``, ``vol``, the short signals, and whichever of
    ``targets`` / ``entries``+``exits`` is unused) are passed as empty arrays.
    """
    n = close.shape[0]
    target_mode = targets.shape[0] > 0
    has_shorts = short_entries.shape[0] > 0
    has_spread = spread.shape[0] > 0
    has_funding = funding.shape[0] > 0
    allow_short = p[P_ALLOW_SHORT] > 0.5
    stop_loss = p[P_STOP_LOSS]
    take_profit = p[P_TAKE_PROFIT]
    time_stop = p[P_TIME_STOP]
    taker = p[P_TAKER_FEE]
    maker = p[P_MAKER_FEE]

    # Every instruction event causes at most one fill at the next open and one stop or time
    # exit before the next event, so these buffers never need to grow inside the loop.
    capacity = 2 * count_events(targets, entries, exits, short_entries, short_exits) + 2
    orders = np.empty((capacity, N_ORDER_FIELDS))
    trades = np.empty((capacity, N_TRADE_FIELDS))
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

    # Hot per-position state lives in locals; ``tr`` is synced only around fills.
    trade_high = 0.0
    trade_low = 0.0
    sl_level = 0.0
    tp_level = 0.0
    entry_bar = 0.0
    bars_in_market = 0.0

    for i in range(n):
        if pending or pos != 0.0:
            if has_funding and pos != 0.0 and funding[i] != 0.0:
                o = open_[i]
                payment = pos * o * funding[i]
                cash -= payment
                tr[TR_FUNDING] += payment
                stats[S_FUNDING] += payment

            if pending:
                pending = False
                o = open_[i]
                if pos != 0.0:  # the position is still held at this open
                    trade_high = max(trade_high, o)
                    trade_low = min(trade_low, o)
                dq = _order_quantity(pend_target, pend_notional, pend_equity, o, pos, p)
                if dq != 0.0:
                    half_spread = _half_spread(i, spread, close, has_spread, p)
                    ref_volume = volume[i - 1]
                    qty = abs(dq)
                    side = 1.0 if dq > 0.0 else -1.0
                    slip = slippage_fraction(qty, ref_volume, half_spread, p)
                    price = o * (1.0 + side * slip)
                    if dq > 0.0 and pos + dq > 0.0 and dq * price * (1.0 + taker) > cash:
                        cover = max(-pos, 0.0)
                        affordable = max(cash, 0.0) / (price * (1.0 + taker))
                        qty = _quantize(max(affordable, cover), p[P_LOT_SIZE])
                        qty = max(qty, cover)
                        slip = slippage_fraction(qty, ref_volume, half_spread, p)
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
                    else:
                        stats[S_REJECTED] += 1.0
                elif pend_target != 0.0 or pos != 0.0:
                    stats[S_REJECTED] += 1.0

            if pos != 0.0:
                h = high[i]
                lo = low[i]
                exit_price = 0.0
                exit_reason = -1
                # The open only matters when a level is hit (gap fills, and the extreme
                # the exit bar reached before the exit); otherwise high/low bound it.
                if pos > 0.0:
                    if stop_loss > 0.0 and lo <= sl_level:
                        o = open_[i]
                        trade_high = max(trade_high, o)
                        exit_price = min(o, sl_level)
                        exit_reason = REASON_STOP_LOSS
                        trade_low = min(trade_low, exit_price)
                    else:
                        trade_low = min(trade_low, lo)
                        if take_profit > 0.0 and h >= tp_level:
                            exit_price = max(open_[i], tp_level)
                            exit_reason = REASON_TAKE_PROFIT
                            trade_high = max(trade_high, exit_price)
                        else:
                            trade_high = max(trade_high, h)
                else:
                    if stop_loss > 0.0 and h >= sl_level:
                        o = open_[i]
                        trade_low = min(trade_low, o)
                        exit_price = max(o, sl_level)
                        exit_reason = REASON_STOP_LOSS
                        trade_high = max(trade_high, exit_price)
                    else:
                        trade_high = max(trade_high, h)
                        if take_profit > 0.0 and lo <= tp_level:
                            exit_price = min(open_[i], tp_level)
                            exit_reason = REASON_TAKE_PROFIT
                            trade_low = min(trade_low, exit_price)
                        else:
                            trade_low = min(trade_low, lo)
                if exit_reason >= 0:
                    tr[TR_HIGH] = trade_high
                    tr[TR_LOW] = trade_low
                    qty = abs(pos)
                    if exit_reason == REASON_STOP_LOSS:
                        half_spread = _half_spread(i, spread, close, has_spread, p)
                        slip = slippage_fraction(qty, volume[i - 1], half_spread, p)
                        side = 1.0 if pos > 0.0 else -1.0
                        price = exit_price * (1.0 - side * slip)
                        cash, pos, n_orders, n_trades = apply_fill(
                            i, -pos, price, qty * price * taker, qty * abs(price - exit_price),
                            REASON_STOP_LOSS, False, cash, pos, tr, orders, n_orders, trades,
                            n_trades, stats, p)
                    else:
                        cash, pos, n_orders, n_trades = apply_fill(
                            i, -pos, exit_price, qty * exit_price * maker, 0.0,
                            REASON_TAKE_PROFIT, True, cash, pos, tr, orders, n_orders, trades,
                            n_trades, stats, p)

            if pos != 0.0:
                bars_in_market += 1.0

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
    tr[TR_HIGH] = trade_high
    tr[TR_LOW] = trade_low
    if pos != 0.0:
        n_trades = record_trade(tr, trades, n_trades, n - 1, REASON_END_OF_DATA,
                                close[n - 1], abs(pos))
    return orders[:n_orders].copy(), trades[:n_trades].copy(), stats
