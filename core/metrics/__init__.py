"""Performance metrics as pure functions with crypto (365-day) annualisation.

Equity curves must be finite; NaN in return/PnL series means "no observation" and is skipped;
too little data or a zero denominator gives ``nan`` (profit factor with winners and no losers
gives ``inf``). See :mod:`core.metrics.returns` for the full input rules.
"""

from core.metrics.drawdown import drawdown_series, max_drawdown, max_drawdown_duration
from core.metrics.ratios import calmar_ratio, sharpe_ratio, sortino_ratio
from core.metrics.returns import annual_volatility, cagr, simple_returns, total_return
from core.metrics.tail import cvar, value_at_risk
from core.metrics.trades import average_trade, exposure, hit_rate, profit_factor, turnover

__all__ = [
    "annual_volatility",
    "average_trade",
    "cagr",
    "calmar_ratio",
    "cvar",
    "drawdown_series",
    "exposure",
    "hit_rate",
    "max_drawdown",
    "max_drawdown_duration",
    "profit_factor",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "total_return",
    "turnover",
    "value_at_risk",
]
