"""The order planner: turns a strategy's signals into sized order requests (pure).

Sizing is the backtester's (``core.backtest.sizing``), called with the parameter vector of the
same :class:`~configs.backtest.BacktestConfig` and risk limits, so a request is what
``run_backtest`` would schedule at that close:

- an order results only when the target of ``(strategy, symbol, tag)`` changes (a target
  whose order is denied is not retried until it changes again); long-only clips negative
  targets to flat;
- a non-zero target is sized with the equity at the decision close: fixed fraction, fixed
  notional, or volatility target with the causal realised volatility of the symbol's closes
  (:class:`~core.backtest.volatility.StreamingVolatility`, equal to the backtester's), capped
  by the max position and the per-trade risk at the stop;
- the request carries the target, the target notional and the decision equity: the quantity
  is computed again at the fill (the venue's open price), as the backtester does; the
  request's ``quantity`` is the estimate at the decision close that the risk checks see;
- a position held ``time_stop_bars`` bars gets one time-stop exit (not retried if denied).

The planner reads the portfolio (built from the venue's events), never a venue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest.layout import P_ALLOW_SHORT, P_TIME_STOP
from core.backtest.params import build_params
from core.backtest.sizing import order_quantity, size_notional
from core.backtest.volatility import StreamingVolatility
from core.data.timeframes import periods_per_year
from core.trading.lots import FifoPosition
from core.trading.messages import OrderRequest, Side, Signal, client_order_id
from core.trading.portfolio import Portfolio

TIME_STOPS_KEPT = 4_096
"""Time-stop exits remembered (one per position; older ones belong to closed positions)."""


@dataclass(frozen=True, slots=True)
class PlannerState:
    """A planner's memory (plain values).

    Attributes:
        targets: ``((strategy_id, symbol, tag), target)`` of every key seen.
        volatility: Per symbol, the streaming realised volatility (vol-target sizing only).
        time_stops: Client order ids of the time-stop exits issued, oldest first.
    """

    targets: tuple[tuple[tuple[str, str, str], float], ...]
    volatility: tuple[StreamingVolatility, ...]
    time_stops: tuple[str, ...]


class OrderPlanner:
    """Sizes orders for one book (see the module doc).

    Args:
        config: The backtest configuration (sizing, stops, filters, direction).
        symbols: The session's symbols.
        timeframe_ms: Bar length (annualises the volatility of vol-target sizing).
        risk: Effective risk limits capping the sizing (None = uncapped).
    """

    def __init__(self, config: BacktestConfig, symbols: Sequence[str], timeframe_ms: int,
                 risk: RiskLimits | None = None) -> None:
        self.config, self.symbols, self._risk = config, tuple(symbols), risk
        self._p = build_params(config, risk)
        self.allow_short = bool(self._p[P_ALLOW_SHORT] > 0.5)
        self.time_stop_bars = int(self._p[P_TIME_STOP])
        self.column = {s: j for j, s in enumerate(self.symbols)}
        self._targets: dict[tuple[str, str, str], float] = {}
        self._time_stops: dict[str, None] = {}
        self.vol_target = config.sizing.method == "vol_target"
        self._vol: list[StreamingVolatility] = (
            [StreamingVolatility(config.sizing.vol_lookback_bars,
                                 periods_per_year(timeframe_ms)) for _ in self.symbols]
            if self.vol_target else [])

    # --- state ---------------------------------------------------------------------------

    @property
    def state(self) -> PlannerState:
        """A snapshot (the volatility states are copied)."""
        return PlannerState(tuple(self._targets.items()), tuple(self.state_copy(self._vol)),
                            tuple(self._time_stops))

    def restore(self, state: PlannerState) -> None:
        """Continue from ``state``."""
        self._targets = dict(state.targets)
        self._time_stops = dict.fromkeys(state.time_stops)
        if self.vol_target:
            self._vol = list(self.state_copy(state.volatility))

    @property
    def risk(self) -> RiskLimits | None:
        """The risk limits capping the sizing."""
        return self._risk

    def use_limits(self, risk: RiskLimits | None) -> None:
        """Cap the sizing of the next orders with ``risk`` (the risk gate's limits in force)."""
        if risk is self._risk or risk == self._risk:
            return
        self._risk, self._p = risk, build_params(self.config, risk)

    @staticmethod
    def state_copy(volatility: Sequence[StreamingVolatility]) -> list[StreamingVolatility]:
        """Independent copies of volatility states."""
        out = []
        for vol in volatility:
            twin = StreamingVolatility(vol.lookback, vol.periods_per_year)
            twin.__setstate__(vol.__getstate__())
            twin.tail = vol.tail.copy()
            out.append(twin)
        return out

    # --- bars ----------------------------------------------------------------------------

    def observe(self, closes: np.ndarray) -> None:
        """Every close of the session, in order (rows x symbols): feeds the volatility."""
        for j, vol in enumerate(self._vol):
            vol.update(closes[:, j])

    # --- orders --------------------------------------------------------------------------

    def plan(self, signal: Signal, book: Portfolio, ts: int,
             pending: Sequence[OrderRequest] = ()) -> OrderRequest | None:
        """The order ``signal`` causes at the close of bar ``ts`` (the book is marked there).

        ``pending``: the orders of this bar already approved; with the working orders they
        count in the symbol's net exposure that ``reduce_only`` is judged on (as the gate
        sees it).

        Returns:
            None when the target did not change, the position is already flat for a zero
            target, nothing can be sized (no equity, no volatility yet), or the estimated
            quantity is 0.

        Raises:
            ValueError: For a symbol outside the session.
        """
        if signal.symbol not in self.column:
            raise ValueError(f"signal for unknown symbol {signal.symbol!r}")
        target, scale = float(signal.target), float(signal.size_scale)
        key = (signal.strategy_id, signal.symbol, signal.tag)
        if target != target or self._targets.get(key) == target * scale:
            return None
        self._targets[key] = target * scale
        effective = target if (self.allow_short or target > 0.0) else 0.0
        held = book.position(signal.symbol, signal.tag)
        pos = held.quantity if held is not None else 0.0
        equity = book.equity()
        j = self.column[signal.symbol]
        close = float(book.close[j])
        if effective == 0.0:
            if pos == 0.0:
                return None
            dq, notional = -pos, 0.0
        else:
            vol = self._vol[j].last if self.vol_target else math.nan
            notional = size_notional(effective, equity, vol, self._p) * scale
            if notional != notional:
                return None
            dq = order_quantity(effective, notional, equity, close, pos, self._p)
            if dq == 0.0:
                return None
        return self._request(book, signal.strategy_id, signal.symbol, signal.tag, int(ts), dq,
                             close, effective, notional, equity, "signal",
                             signal.stop_loss_pct, signal.take_profit_pct, int(ts), pending)

    def time_stop_due(self, position: FifoPosition) -> int | None:
        """Session index from which ``position`` is due for its time stop (None: never)."""
        if not self.time_stop_bars or position.quantity == 0.0:
            return None
        if self._time_stop_id(position) in self._time_stops:
            return None
        return position.entry_index + self.time_stop_bars - 1

    def time_stop(self, position: FifoPosition, book: Portfolio, ts: int,
                  pending: Sequence[OrderRequest] = ()) -> OrderRequest:
        """The time-stop exit of ``position`` (remembered: it is issued once).

        ``pending``: as in :meth:`plan`.
        """
        oid = self._time_stop_id(position)
        self._time_stops[oid] = None
        while len(self._time_stops) > TIME_STOPS_KEPT:
            del self._time_stops[next(iter(self._time_stops))]
        return self._request(book, position.strategy_id, position.symbol, position.tag,
                             int(ts), -position.quantity,
                             float(book.close[self.column[position.symbol]]), 0.0, 0.0,
                             book.equity(), "time_stop", None, None, position.opened_ts,
                             pending)

    @staticmethod
    def _time_stop_id(position: FifoPosition) -> str:
        return client_order_id(position.strategy_id, position.symbol, position.tag,
                               position.opened_ts, "time_stop")

    @staticmethod
    def _request(book: Portfolio, strategy_id: str, symbol: str, tag: str, ts: int, dq: float,
                 price: float, target: float, notional: float, equity: float, kind: str,
                 stop_loss_pct: float | None, take_profit_pct: float | None, id_ts: int,
                 pending: Sequence[OrderRequest]) -> OrderRequest:
        net = book.exposure(pending, ts).net_quantity(symbol)
        reduce_only = net != 0.0 and dq * net < 0.0 and abs(dq) <= abs(net)
        return OrderRequest(
            client_order_id(strategy_id, symbol, tag, id_ts, kind), strategy_id, symbol, tag,
            ts, Side.BUY if dq > 0.0 else Side.SELL, abs(dq), price, target, notional,
            reduce_only, stop_loss_pct, take_profit_pct, kind, equity)
