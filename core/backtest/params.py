"""Translate the typed backtest configuration into the kernel's parameter vector."""

from __future__ import annotations

import math

import numpy as np

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest.layout import (
    N_PARAMS,
    P_ALLOW_SHORT,
    P_FRACTION,
    P_HALF_SPREAD,
    P_IMPACT_COEF,
    P_IMPACT_EXP,
    P_INIT_CASH,
    P_LOT_SIZE,
    P_MAKER_FEE,
    P_MAX_LEVERAGE,
    P_MAX_POSITION,
    P_MAX_SLIP,
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
    SIZING_CODES,
)

_BPS = 1e-4
_PCT = 1e-2


def _fraction(pct: float | None) -> float:
    return math.inf if pct is None else pct * _PCT


def build_params(config: BacktestConfig, risk: RiskLimits | None = None) -> np.ndarray:
    """Return the float64 parameter vector for :func:`core.backtest.kernel.simulate_column`.

    Args:
        config: Costs, sizing, stops, exchange filters and direction.
        risk: Effective risk limits; ``max_position_pct``, ``max_trade_pct`` and
            ``per_trade_risk_pct`` cap every order. None leaves sizing uncapped.
    """
    p = np.zeros(N_PARAMS)
    costs, sizing, stops = config.costs, config.sizing, config.stops
    p[P_INIT_CASH] = config.initial_cash
    p[P_MAKER_FEE] = costs.maker_fee_bps * _BPS
    p[P_TAKER_FEE] = costs.taker_fee_bps * _BPS
    p[P_HALF_SPREAD] = costs.half_spread_bps * _BPS
    p[P_IMPACT_COEF] = costs.impact_coef
    p[P_IMPACT_EXP] = costs.impact_exponent
    p[P_MAX_SLIP] = costs.max_slippage_bps * _BPS
    p[P_SIZING] = SIZING_CODES[sizing.method]
    p[P_FRACTION] = sizing.fraction
    p[P_VOL_TARGET] = sizing.vol_target_annual
    p[P_MAX_LEVERAGE] = sizing.max_leverage
    p[P_NOTIONAL] = sizing.notional
    p[P_STOP_LOSS] = 0.0 if stops.stop_loss_pct is None else stops.stop_loss_pct * _PCT
    p[P_TAKE_PROFIT] = 0.0 if stops.take_profit_pct is None else stops.take_profit_pct * _PCT
    p[P_TIME_STOP] = 0.0 if stops.time_stop_bars is None else float(stops.time_stop_bars)
    p[P_MIN_NOTIONAL] = config.min_notional
    p[P_LOT_SIZE] = config.lot_size
    p[P_ALLOW_SHORT] = 1.0 if config.direction == "long_short" else 0.0
    p[P_MAX_POSITION] = _fraction(risk.max_position_pct if risk else None)
    p[P_MAX_TRADE] = _fraction(risk.max_trade_pct if risk else None)
    p[P_RISK_PER_TRADE] = _fraction(risk.per_trade_risk_pct if risk else None)
    return p
