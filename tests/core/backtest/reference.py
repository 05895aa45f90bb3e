"""A plain-Python reference backtester written from the documented semantics.

It is deliberately naive — objects, one bar at a time, an eager equity curve — so that the
numba engine can be checked against it on random inputs. It shares only the configuration
models with the engine, none of its code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits


@dataclass
class Fill:
    bar: int
    side: int
    qty: float
    price: float
    fee: float
    slippage: float
    reason: str
    maker: bool
    position: float
    cash: float


@dataclass
class Trade:
    entry_bar: int
    direction: int
    qty_opened: float
    entry_value: float
    avg: float
    fees: float
    slippage: float
    funding: float = 0.0
    realized: float = 0.0
    exit_qty: float = 0.0
    exit_value: float = 0.0
    high: float = 0.0
    low: float = 0.0
    record: dict = field(default_factory=dict)


class Reference:
    """Simulate one column."""

    def __init__(self, market: dict, config: BacktestConfig, risk: RiskLimits | None,
                 vol: list[float] | None = None) -> None:
        self.o = market["open"]
        self.h = market["high"]
        self.lo = market["low"]
        self.c = market["close"]
        self.v = market["volume"]
        self.spread = market.get("spread")
        self.funding = market.get("funding")
        self.vol = vol
        self.cfg = config
        costs = config.costs
        self.taker = costs.taker_fee_bps / 10_000
        self.maker = costs.maker_fee_bps / 10_000
        self.half_spread_setting = costs.half_spread_bps / 10_000
        self.max_slip = costs.max_slippage_bps / 10_000
        stops = config.stops
        self.sl = (stops.stop_loss_pct or 0.0) / 100
        self.tp = (stops.take_profit_pct or 0.0) / 100
        self.time_stop = stops.time_stop_bars or 0
        self.allow_short = config.direction == "long_short"
        inf = math.inf
        self.max_position = risk.max_position_pct / 100 if risk and risk.max_position_pct else inf
        self.max_trade = risk.max_trade_pct / 100 if risk and risk.max_trade_pct else inf
        self.risk_per_trade = (risk.per_trade_risk_pct / 100
                               if risk and risk.per_trade_risk_pct else inf)
        self.cash = config.initial_cash
        self.pos = 0.0
        self.trade: Trade | None = None
        self.fills: list[Fill] = []
        self.trades: list[dict] = []
        self.equity: list[float] = []
        self.rejected = 0
        self.bars_in_market = 0
        self.pending: tuple[float, float, float, str] | None = None

    # --- costs ------------------------------------------------------------------------------
    def half_spread(self, i: int) -> float:
        if self.spread is not None:
            return 0.5 * self.spread[i - 1] / self.c[i - 1]
        return self.half_spread_setting

    def slippage(self, qty: float, i: int) -> float:
        impact = 0.0
        coef = self.cfg.costs.impact_coef
        if coef > 0:
            volume = self.v[i - 1]
            impact = coef * (qty / volume) ** self.cfg.costs.impact_exponent if volume > 0 \
                else self.max_slip
        return min(self.half_spread(i) + impact, self.max_slip)

    def lot(self, qty: float) -> float:
        lot = self.cfg.lot_size
        return qty if lot <= 0 else math.floor(qty / lot + 1e-9) * lot

    # --- sizing -----------------------------------------------------------------------------
    def notional(self, target: float, equity: float, i: int) -> float | None:
        if equity <= 0:
            return None
        sizing = self.cfg.sizing
        if sizing.method == "fixed_fraction":
            value = target * sizing.fraction * equity
        elif sizing.method == "vol_target":
            vol = self.vol[i]
            if not (vol > 0) or not math.isfinite(vol):
                return None
            value = target * equity * min(sizing.vol_target_annual / vol, sizing.max_leverage)
        else:
            value = target * sizing.notional
        cap = self.max_position * equity
        if self.sl > 0:
            cap = min(cap, self.risk_per_trade * equity / self.sl)
        return max(-cap, min(cap, value))

    # --- bookkeeping ------------------------------------------------------------------------
    def fill(self, i: int, dq: float, price: float, fee: float, slip: float, reason: str,
             maker: bool) -> None:
        qty = abs(dq)
        old = self.pos
        self.cash -= dq * price + fee
        new = old + dq
        if abs(new) <= 1e-12 * max(abs(old), qty):
            new = 0.0
        self.pos = new
        self.fills.append(Fill(i, 1 if dq > 0 else -1, qty, price, fee, slip, reason, maker,
                               new, self.cash))
        if old == 0:
            self.open_trade(i, 1 if dq > 0 else -1, qty, price, fee, slip)
            return
        trade = self.trade
        if (old > 0) == (dq > 0):
            held = abs(old)
            trade.avg = (trade.avg * held + price * qty) / (held + qty)
            trade.qty_opened += qty
            trade.entry_value += qty * price
            trade.fees += fee
            trade.slippage += slip
            return
        closing = min(qty, abs(old))
        share = closing / qty
        trade.realized += trade.direction * (price - trade.avg) * closing
        trade.fees += fee * share
        trade.slippage += slip * share
        trade.exit_qty += closing
        trade.exit_value += closing * price
        if new == 0 or (new > 0) != (old > 0):
            self.close_trade(i, reason, price, 0.0)
            if new != 0:
                self.open_trade(i, 1 if new > 0 else -1, abs(new), price, fee * (1 - share),
                                slip * (1 - share))

    def open_trade(self, i: int, direction: int, qty: float, price: float, fee: float,
                   slip: float) -> None:
        self.trade = Trade(i, direction, qty, qty * price, price, fee, slip, high=price,
                           low=price)

    def levels(self) -> tuple[float, float]:
        t = self.trade
        return t.avg * (1 - t.direction * self.sl), t.avg * (1 + t.direction * self.tp)

    def close_trade(self, i: int, reason: str, mark: float, mark_qty: float) -> None:
        t = self.trade
        exit_qty = t.exit_qty + mark_qty
        exit_value = t.exit_value + mark_qty * mark
        gross = t.realized + t.direction * (mark - t.avg) * mark_qty
        pnl = gross - t.fees - t.funding
        entry = t.entry_value / t.qty_opened
        if t.direction > 0:
            mae, mfe = t.low / entry - 1, t.high / entry - 1
        else:
            mae, mfe = 1 - t.high / entry, 1 - t.low / entry
        self.trades.append(dict(
            entry_bar=t.entry_bar, exit_bar=i, direction=t.direction, qty=t.qty_opened,
            entry_price=entry, exit_price=exit_value / exit_qty, pnl=pnl,
            ret=pnl / t.entry_value, fees=t.fees, slippage=t.slippage, funding=t.funding,
            mae=mae, mfe=mfe, exit_reason=reason, is_open=mark_qty > 0,
        ))
        self.trade = None

    # --- events within a bar ----------------------------------------------------------------
    def execute_pending(self, i: int) -> None:
        target, notional, equity, reason = self.pending
        self.pending = None
        o = self.o[i]
        if self.trade is not None:
            self.trade.high = max(self.trade.high, o)
            self.trade.low = min(self.trade.low, o)
        if target == 0:
            dq = -self.pos
        else:
            desired = notional / o
            dq = desired - self.pos
            if desired * self.pos < 0 or abs(desired) > abs(self.pos):
                if equity <= 0:
                    dq = 0.0
                else:
                    cap = self.max_trade * equity / o
                    dq = max(-cap, min(cap, dq))
            qty = self.lot(abs(dq))
            too_small = qty * o < self.cfg.min_notional or qty <= 0
            dq = 0.0 if too_small else math.copysign(qty, dq)
        if dq == 0:
            if target != 0 or self.pos != 0:
                self.rejected += 1
            return
        qty = abs(dq)
        slip = self.slippage(qty, i)
        price = o * (1 + (1 if dq > 0 else -1) * slip)
        if dq > 0 and self.pos + dq > 0 and dq * price * (1 + self.taker) > self.cash:
            cover = max(-self.pos, 0.0)
            affordable = max(self.cash, 0.0) / (price * (1 + self.taker))
            qty = max(self.lot(max(affordable, cover)), cover)
            slip = self.slippage(qty, i)
            price = o * (1 + slip)
            if qty > cover and (qty - cover) * o < self.cfg.min_notional:
                qty = cover
            dq = qty
        if qty <= 0:
            self.rejected += 1
            return
        self.fill(i, dq, price, qty * price * self.taker, qty * abs(price - o), reason, False)

    def intrabar(self, i: int) -> None:
        t = self.trade
        o, h, lo = self.o[i], self.h[i], self.lo[i]
        sl_level, tp_level = self.levels()
        exit_kind, trigger = None, 0.0
        if self.pos > 0:  # path: open -> low -> high -> close
            if self.sl > 0 and lo <= sl_level:
                t.high = max(t.high, o)
                exit_kind, trigger = "stop_loss", min(o, sl_level)
                t.low = min(t.low, trigger)
            else:
                t.low = min(t.low, lo)
                if self.tp > 0 and h >= tp_level:
                    exit_kind, trigger = "take_profit", max(o, tp_level)
                    t.high = max(t.high, trigger)
                else:
                    t.high = max(t.high, h)
        else:  # path: open -> high -> low -> close
            if self.sl > 0 and h >= sl_level:
                t.low = min(t.low, o)
                exit_kind, trigger = "stop_loss", max(o, sl_level)
                t.high = max(t.high, trigger)
            else:
                t.high = max(t.high, h)
                if self.tp > 0 and lo <= tp_level:
                    exit_kind, trigger = "take_profit", min(o, tp_level)
                    t.low = min(t.low, trigger)
                else:
                    t.low = min(t.low, lo)
        if exit_kind is None:
            return
        qty = abs(self.pos)
        if exit_kind == "stop_loss":
            slip = self.slippage(qty, i)
            price = trigger * (1 - slip) if self.pos > 0 else trigger * (1 + slip)
            self.fill(i, -self.pos, price, qty * price * self.taker, qty * abs(price - trigger),
                      "stop_loss", False)
        else:
            self.fill(i, -self.pos, trigger, qty * trigger * self.maker, 0.0, "take_profit",
                      True)

    def bar(self, i: int, instruction) -> None:
        if self.funding is not None and self.pos != 0 and self.funding[i] != 0:
            payment = self.pos * self.o[i] * self.funding[i]
            self.cash -= payment
            self.trade.funding += payment
        if self.pending is not None:
            self.execute_pending(i)
        if self.pos != 0:
            self.intrabar(i)
        if self.pos != 0:
            self.bars_in_market += 1
        equity = self.cash + self.pos * self.c[i] if self.pos != 0 else self.cash
        self.equity.append(equity)
        if self.allow_short and self.pos != 0 and equity <= 0:
            self.pending = (0.0, 0.0, 0.0, "liquidation")  # ruined: close at the next open
            return
        target = instruction(i)
        if target is not None:
            if target == 0:
                if self.pos != 0:
                    self.pending = (0.0, 0.0, 0.0, "signal")
            else:
                notional = self.notional(target, equity, i)
                if notional is None:
                    self.rejected += 1
                else:
                    self.pending = (target, notional, equity, "signal")
        if (self.pending is None and self.time_stop and self.pos != 0
                and i - self.trade.entry_bar + 1 >= self.time_stop):
            self.pending = (0.0, 0.0, 0.0, "time_stop")

    def finish(self) -> None:
        if self.pos != 0:
            n = len(self.c)
            self.close_trade(n - 1, "end_of_data", self.c[n - 1], abs(self.pos))


def run_reference_targets(market: dict, targets: list[float], config: BacktestConfig,
                          risk: RiskLimits | None = None, vol: list[float] | None = None
                          ) -> Reference:
    """Target mode: an order whenever the (non-NaN) target differs from the last one seen."""
    ref = Reference(market, config, risk, vol)
    last = [math.nan]

    def instruction(i: int) -> float | None:
        value = targets[i]
        if math.isnan(value) or value == last[0]:
            return None
        last[0] = value
        return value if (ref.allow_short or value > 0) else 0.0

    for i in range(len(targets)):
        ref.bar(i, instruction)
    ref.finish()
    return ref


def run_reference_signals(market: dict, entries: list[bool], exits: list[bool],
                          config: BacktestConfig, risk: RiskLimits | None = None,
                          short_entries: list[bool] | None = None,
                          short_exits: list[bool] | None = None) -> Reference:
    """Signal mode: entries/exits acted on according to the position held at the close."""
    ref = Reference(market, config, risk)

    def instruction(i: int) -> float | None:
        long_entry = entries[i] and not exits[i]
        long_exit = exits[i] and not entries[i]
        short_entry = short_exit = False
        if short_entries is not None:
            short_entry = short_entries[i] and not short_exits[i] and ref.allow_short
            short_exit = short_exits[i] and not short_entries[i]
        if long_entry and short_entry:
            return None
        if long_entry:
            return 1.0 if ref.pos <= 0 else None
        if short_entry:
            return -1.0 if ref.pos >= 0 else None
        if long_exit and ref.pos > 0:
            return 0.0
        if short_exit and ref.pos < 0:
            return 0.0
        return None

    for i in range(len(entries)):
        ref.bar(i, instruction)
    ref.finish()
    return ref
