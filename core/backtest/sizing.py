"""Order sizing (numba): from a target to a notional at the decision bar, then to a quantity.

A target is sized with the equity at the decision close (fixed fraction, volatility target
or fixed notional) and capped by the risk limits; at the next open the notional becomes a
quantity, limited by the max-trade cap, rounded down to the lot size and dropped below the
minimum notional.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from core.backtest.layout import (
    P_FRACTION,
    P_HALF_SPREAD,
    P_LOT_SIZE,
    P_MAX_LEVERAGE,
    P_MAX_POSITION,
    P_MAX_TRADE,
    P_MIN_NOTIONAL,
    P_NOTIONAL,
    P_RISK_PER_TRADE,
    P_SIZING,
    P_STOP_LOSS,
    P_VOL_TARGET,
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
def half_spread(i: int, spread: np.ndarray, close: np.ndarray, has_spread: bool,
                 p: np.ndarray) -> float:
    """Half-spread fraction known at the decision bar ``i - 1`` (data column or setting)."""
    if has_spread:
        return 0.5 * spread[i - 1] / close[i - 1]
    return p[P_HALF_SPREAD]


@njit(cache=True, nogil=True)
def quantize(qty: float, lot: float) -> float:
    """Round ``qty`` down to a multiple of ``lot`` (no rounding when ``lot`` is 0)."""
    if lot <= 0.0:
        return qty
    return np.floor(qty / lot + 1e-9) * lot


@njit(cache=True, nogil=True)
def order_quantity(target: float, notional: float, equity: float, price: float, pos: float,
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
    qty = quantize(abs(dq), p[P_LOT_SIZE])
    if qty * price < p[P_MIN_NOTIONAL] or qty <= 0.0:
        return 0.0
    return qty if dq > 0.0 else -qty
