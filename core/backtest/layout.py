"""Index layouts shared by the numba kernel and its Python wrapper.

The kernel takes its settings as one float64 vector and writes orders and trades as rows of
float64 matrices; these constants name the slots so both sides agree.
"""

from __future__ import annotations

# --- parameter vector -------------------------------------------------------------------------
P_INIT_CASH = 0
P_MAKER_FEE = 1  # fraction of notional
P_TAKER_FEE = 2
P_HALF_SPREAD = 3  # fraction of price, used when the data has no spread column
P_IMPACT_COEF = 4
P_IMPACT_EXP = 5
P_MAX_SLIP = 6  # fraction of price
P_SIZING = 7  # one of SIZING_*
P_FRACTION = 8
P_VOL_TARGET = 9
P_MAX_LEVERAGE = 10
P_NOTIONAL = 11
P_STOP_LOSS = 12  # fraction of entry price, 0 = off
P_TAKE_PROFIT = 13  # fraction of entry price, 0 = off
P_TIME_STOP = 14  # bars, 0 = off
P_MIN_NOTIONAL = 15
P_LOT_SIZE = 16  # 0 = continuous quantities
P_ALLOW_SHORT = 17  # 0 or 1
P_MAX_POSITION = 18  # fraction of equity, inf = uncapped
P_MAX_TRADE = 19  # fraction of equity, inf = uncapped
P_RISK_PER_TRADE = 20  # fraction of equity lost at the stop, inf = uncapped
N_PARAMS = 21

SIZING_FIXED_FRACTION = 0
SIZING_VOL_TARGET = 1
SIZING_FIXED_NOTIONAL = 2
SIZING_CODES = {
    "fixed_fraction": SIZING_FIXED_FRACTION,
    "vol_target": SIZING_VOL_TARGET,
    "fixed_notional": SIZING_FIXED_NOTIONAL,
}

# --- reasons ----------------------------------------------------------------------------------
REASON_SIGNAL = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_TIME_STOP = 3
REASON_END_OF_DATA = 4
REASON_LIQUIDATION = 5  # equity at a close <= 0 with a position: closed at the next open
REASON_NAMES = ("signal", "stop_loss", "take_profit", "time_stop", "end_of_data", "liquidation")

# --- order rows -------------------------------------------------------------------------------
O_BAR = 0
O_SIDE = 1  # +1 buy, -1 sell
O_QTY = 2  # absolute base quantity
O_PRICE = 3  # fill price including slippage
O_FEE = 4  # quote
O_SLIPPAGE = 5  # quote cost of slippage against the reference price
O_REASON = 6
O_MAKER = 7  # 1 when the maker fee applied
O_POSITION = 8  # signed position after the fill
O_CASH = 9  # cash after the fill
N_ORDER_FIELDS = 10
ORDER_COLUMNS = (
    "bar", "side", "qty", "price", "fee", "slippage", "reason", "maker", "position", "cash",
)

# --- trade rows -------------------------------------------------------------------------------
T_ENTRY_BAR = 0
T_EXIT_BAR = 1
T_DIRECTION = 2  # +1 long, -1 short
T_QTY = 3  # total quantity opened over the trade's life
T_ENTRY_PRICE = 4  # quantity-weighted average entry fill
T_EXIT_PRICE = 5  # quantity-weighted average exit fill (mark price for open trades)
T_PNL = 6  # net: price PnL - fees - funding
T_RETURN = 7  # net PnL / (entry price * qty)
T_FEES = 8
T_SLIPPAGE = 9
T_FUNDING = 10  # paid (positive) or received (negative)
T_MAE = 11  # worst excursion against the position, fraction of entry (<= 0)
T_MFE = 12  # best excursion in favour, fraction of entry (>= 0)
T_EXIT_REASON = 13
T_IS_OPEN = 14  # 1 when the trade was still open at the end and is marked to the last close
N_TRADE_FIELDS = 15
TRADE_COLUMNS = (
    "entry_bar", "exit_bar", "direction", "qty", "entry_price", "exit_price", "pnl", "return",
    "fees", "slippage", "funding", "mae", "mfe", "exit_reason", "is_open",
)

# --- per-column statistics --------------------------------------------------------------------
S_BARS_IN_MARKET = 0
S_TRADED_NOTIONAL = 1
S_REJECTED = 2  # orders dropped by min notional, lot size, cash or missing volatility
S_FEES = 3
S_FUNDING = 4
N_STATS = 5
STAT_COLUMNS = ("bars_in_market", "traded_notional", "rejected_orders", "fees", "funding")
