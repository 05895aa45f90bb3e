"""An independent, plain-Python reference of the shared multi-symbol paper book.

Written from the documented semantics of the trading core (the module docs of
``core.trading.paper`` and ``core.trading.trader``), not from their code, and sharing none of
it: no import of the paper client, trader, planner, portfolio, lots or backtest kernel. It is
deliberately naive (dicts, one bar at a time) and covers the book without stops: several
symbols share one cash, each (strategy, symbol, tag) has a target, fixed-fraction sizing with
the equity at the decision close, fills at the next open with half-spread slippage and the
taker fee (buys limited by the cash), long/short with ruin liquidation, and funding.

Per bar ``i``, in this order:

1. funding: each open position pays ``quantity * open * rate`` (a negative amount is received);
2. the orders decided at the previous close fill at this open, in the order they were decided;
   the quantity is computed here from the order's target (the backtester's target order);
3. equity is marked at the close (cash + every position at its close);
4. ruin (shorts allowed, some position open, equity <= 0): every position gets a liquidation
   order for the next open and the bar's signals are ignored; otherwise each signal whose
   target changed becomes an order (none when its estimate at the close is 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from configs.backtest import BacktestConfig

FLAT_EPS = 1e-12  # a position within this relative distance of 0 after a fill is flat


@dataclass(frozen=True)
class RefSignal:
    """A decision at the close of bar ``bar``: hold ``target`` units of ``symbol``."""

    bar: int
    strategy: str
    symbol: str
    target: float
    tag: str = "core"


@dataclass(frozen=True)
class RefFill:
    """One execution (the fields the trader's Fill has)."""

    bar: int
    symbol: str
    tag: str
    side: str
    quantity: float
    price: float
    fee: float
    reason: str


@dataclass
class RefOrder:
    symbol: str
    tag: str
    target: float
    notional: float
    equity: float
    reason: str


@dataclass
class RefResult:
    """Equity at every close, the fills in order, the final cash and funding paid."""

    equity: list[float] = field(default_factory=list)
    fills: list[RefFill] = field(default_factory=list)
    cash: float = 0.0
    funding: float = 0.0


class ReferenceBook:
    """The book over ``market`` (dict of ``(n_bars, n_symbols)`` arrays, see the module doc).

    Args:
        config: Costs, fixed-fraction sizing, filters and direction (stops, impact, time
            stops and other sizing methods are not modelled).
        symbols: Column names of the market arrays.
    """

    def __init__(self, config: BacktestConfig, symbols: Sequence[str]) -> None:
        assert config.sizing.method == "fixed_fraction" and config.costs.impact_coef == 0.0
        assert config.stops.stop_loss_pct is None and config.stops.take_profit_pct is None
        assert config.stops.time_stop_bars is None
        self.symbols = list(symbols)
        self.taker = config.costs.taker_fee_bps * 1e-4
        self.slip = min(config.costs.half_spread_bps * 1e-4,
                        config.costs.max_slippage_bps * 1e-4)
        self.fraction = config.sizing.fraction
        self.lot = config.lot_size
        self.min_notional = config.min_notional
        self.shorts = config.direction == "long_short"
        self.cash = config.initial_cash
        self.qty: dict[tuple[str, str], float] = {}
        self.last_target: dict[tuple[str, str, str], float] = {}

    def run(self, market: dict[str, np.ndarray], signals: Sequence[RefSignal]) -> RefResult:
        """Every bar of ``market``; ``signals`` in decision order."""
        out = RefResult()
        by_bar: dict[int, list[RefSignal]] = {}
        for s in signals:
            by_bar.setdefault(s.bar, []).append(s)
        col = {s: j for j, s in enumerate(self.symbols)}
        orders: list[RefOrder] = []
        for i in range(len(market["close"])):
            opens = {s: float(market["open"][i][col[s]]) for s in self.symbols}
            closes = {s: float(market["close"][i][col[s]]) for s in self.symbols}
            if "funding" in market:
                for (symbol, _), q in sorted(self.qty.items()):
                    rate = float(market["funding"][i][col[symbol]])
                    if q != 0.0 and rate != 0.0:
                        amount = q * opens[symbol] * rate
                        self.cash -= amount
                        out.funding += amount
            for order in orders:
                self._fill(order, opens[order.symbol], i, out)
            orders = []
            equity = self.equity(closes)
            out.equity.append(equity)
            held = [key for key, q in sorted(self.qty.items()) if q != 0.0]
            if self.shorts and held and equity <= 0.0:
                orders = [RefOrder(s, t, 0.0, 0.0, equity, "liquidation") for s, t in held]
                continue
            for signal in by_bar.get(i, []):
                order = self._decide(signal, equity, closes[signal.symbol])
                if order is not None:
                    orders.append(order)
        out.cash = self.cash
        return out

    def equity(self, closes: dict[str, float]) -> float:
        value = self.cash
        for (symbol, _), q in sorted(self.qty.items()):
            if q != 0.0:
                value += q * closes[symbol]
        return value

    def _decide(self, signal: RefSignal, equity: float, close: float) -> RefOrder | None:
        key = (signal.strategy, signal.symbol, signal.tag)
        target = signal.target
        if math.isnan(target) or self.last_target.get(key) == target:
            return None
        self.last_target[key] = target
        if not self.shorts and target < 0.0:
            target = 0.0
        pos = self.qty.get((signal.symbol, signal.tag), 0.0)
        if target == 0.0:
            if pos == 0.0:
                return None
            return RefOrder(signal.symbol, signal.tag, 0.0, 0.0, equity, "signal")
        if not equity > 0.0:
            return None  # a ruined account sizes nothing
        notional = target * self.fraction * equity
        if self._quantity(target, notional, equity, close, pos) == 0.0:
            return None  # nothing to send: the estimate at the close is 0
        return RefOrder(signal.symbol, signal.tag, target, notional, equity, "signal")

    def _round(self, qty: float) -> float:
        return qty if self.lot <= 0.0 else math.floor(qty / self.lot + 1e-9) * self.lot

    def _quantity(self, target: float, notional: float, equity: float, price: float,
                  pos: float) -> float:
        """Signed quantity moving ``pos`` toward the target at ``price`` (0: none)."""
        if target == 0.0:
            return -pos
        wanted = notional / price
        change = wanted - pos
        grows = wanted * pos < 0.0 or abs(wanted) > abs(pos)
        if grows and equity <= 0.0:
            return 0.0
        qty = self._round(abs(change))
        if qty <= 0.0 or qty * price < self.min_notional:
            return 0.0
        return qty if change > 0.0 else -qty

    def _fill(self, order: RefOrder, o: float, bar: int, out: RefResult) -> None:
        key = (order.symbol, order.tag)
        pos = self.qty.get(key, 0.0)
        dq = self._quantity(order.target, order.notional, order.equity, o, pos)
        if dq == 0.0:
            return
        price = o * (1.0 + self.slip) if dq > 0.0 else o * (1.0 - self.slip)
        qty = abs(dq)
        if dq > 0.0 and pos + dq > 0.0 and dq * price * (1.0 + self.taker) > self.cash:
            cover = max(-pos, 0.0)  # a short being covered is always bought back
            can_buy = max(self.cash, 0.0) / (price * (1.0 + self.taker))
            qty = max(self._round(max(can_buy, cover)), cover)
            if qty > cover and (qty - cover) * o < self.min_notional:
                qty = cover
            dq = qty
            if qty <= 0.0:
                return
        fee = qty * price * self.taker
        self.cash -= dq * price + fee
        new = pos + dq
        if abs(new) <= FLAT_EPS * max(abs(pos), qty):
            new = 0.0
        self.qty[key] = new
        out.fills.append(RefFill(bar, order.symbol, order.tag, "BUY" if dq > 0.0 else "SELL",
                                 qty, price, fee, order.reason))
