"""FIFO lots of one (symbol, tag) position, its realised PnL and excursions (MAE/MFE).

A :class:`FifoPosition` keeps the open lots (quantity, price, time) oldest first. A fill in
the position's direction opens a lot; a fill against it consumes the oldest lots first and
realises ``direction * (fill price - lot price) * quantity`` on each; the part of a fill
beyond the open quantity opens the opposite position.

The signed quantity itself follows the backtester's arithmetic exactly (``pos + dq``, snapped
to 0 within ``core.backtest.fills._FLAT_EPS``), and so does ``entry_avg``, the average cost
that stop-loss and take-profit levels are set from (it changes on opens and adds, not on
reductions, unlike the FIFO average of the open lots).

Excursions are in quote units, marked from bar highs and lows against the FIFO average
price: MAE is the worst unrealised PnL seen (<= 0), MFE the best (>= 0); both reset when the
position goes flat or flips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.backtest.fills import _FLAT_EPS, slippage_fraction
from core.backtest.intrabar import NO_EXIT, check_stops
from core.backtest.layout import P_HALF_SPREAD, P_MAKER_FEE, P_TAKER_FEE, REASON_STOP_LOSS
from core.trading.messages import PositionSnapshot


@dataclass(frozen=True, slots=True)
class Lot:
    """One open lot.

    Attributes:
        quantity: Absolute quantity still open (base asset).
        price: Entry price.
        ts: Entry time (bar open time of the fill).
    """

    quantity: float
    price: float
    ts: int


class FifoPosition:
    """The position of one (symbol, tag): FIFO lots, realised PnL, fees, MAE/MFE, stops.

    Attributes:
        symbol: Instrument.
        tag: Position tag.
        quantity: Signed quantity (backtester arithmetic).
        lots: Open lots, oldest first, all in the direction of ``quantity``.
        realized: Gross realised PnL (before fees) since the position book was created.
        fees: Fees paid on every fill of this (symbol, tag).
        mae: Maximum adverse excursion of the current position, quote (<= 0).
        mfe: Maximum favourable excursion of the current position, quote (>= 0).
        opened_ts: Bar open time of the fill that opened the current position.
        entry_index: Session bar index of that fill (for time stops).
        entry_avg: Average cost as the backtester keeps it (stop levels hang on it).
        avg_price: Volume-weighted price of the open lots (FIFO average).
        strategy_id: Strategy of the last order that opened or increased the position.
        stop_loss: Stop-loss distance as a fraction of ``entry_avg`` (0 = none).
        take_profit: Take-profit distance as a fraction of ``entry_avg`` (0 = none).
    """

    __slots__ = ("symbol", "tag", "quantity", "lots", "realized", "fees", "mae", "mfe",
                 "opened_ts", "entry_index", "entry_avg", "avg_price", "strategy_id",
                 "stop_loss", "take_profit")

    def __init__(self, symbol: str, tag: str) -> None:
        self.symbol = symbol
        self.tag = tag
        self.quantity = 0.0
        self.lots: list[Lot] = []
        self.realized = 0.0
        self.fees = 0.0
        self.mae = 0.0
        self.mfe = 0.0
        self.opened_ts = 0
        self.entry_index = 0
        self.entry_avg = 0.0
        self.avg_price = 0.0
        self.strategy_id = ""
        self.stop_loss = 0.0
        self.take_profit = 0.0

    @property
    def key(self) -> tuple[str, str]:
        """``(symbol, tag)``."""
        return self.symbol, self.tag

    @property
    def realized_pnl(self) -> float:
        """Realised PnL after every fee paid on this (symbol, tag)."""
        return self.realized - self.fees

    def copy(self) -> FifoPosition:
        """An independent copy (lots are immutable, so the list is copied shallowly)."""
        other = FifoPosition.__new__(FifoPosition)
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        other.lots = list(self.lots)
        return other

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def fill(self, dq: float, price: float, fee: float, ts: int, index: int) -> float:
        """Book a fill of signed quantity ``dq`` at ``price``; returns the gross realised PnL.

        Args:
            dq: Signed quantity (> 0 buys).
            price: Fill price.
            fee: Fee paid (added to :attr:`fees`).
            ts: Bar open time of the fill.
            index: Session bar index of the fill.
        """
        pos = self.quantity
        qty = abs(dq)
        new_pos = pos + dq
        if abs(new_pos) <= _FLAT_EPS * max(abs(pos), qty):
            new_pos = 0.0
        self.fees += fee
        gross = 0.0
        if pos == 0.0:
            self._open(qty, price, ts, index)
        elif (pos > 0.0) == (dq > 0.0):
            held = abs(pos)
            self.entry_avg = (self.entry_avg * held + price * qty) / (held + qty)
            self.lots.append(Lot(qty, price, ts))
        else:
            gross = self._consume(min(qty, abs(pos)), price, 1.0 if pos > 0.0 else -1.0)
            if new_pos == 0.0:
                self.lots.clear()
                self.mae = self.mfe = 0.0
            elif (new_pos > 0.0) != (pos > 0.0):
                self._open(abs(new_pos), price, ts, index)
        self.realized += gross
        self.quantity = new_pos
        self.avg_price = _average(self.lots)
        return gross

    def _open(self, qty: float, price: float, ts: int, index: int) -> None:
        self.lots = [Lot(qty, price, ts)]
        self.entry_avg = price
        self.opened_ts = int(ts)
        self.entry_index = int(index)
        self.mae = self.mfe = 0.0

    def _consume(self, qty: float, price: float, direction: float) -> float:
        """Close ``qty`` from the oldest lots; returns the gross PnL realised."""
        gross = 0.0
        remaining = qty
        done = 0
        for lot in self.lots:
            if remaining <= 0.0:
                break
            take = min(lot.quantity, remaining)
            gross += direction * (price - lot.price) * take
            remaining -= take
            if take < lot.quantity:
                self.lots[done] = Lot(lot.quantity - take, lot.price, lot.ts)
                break
            done += 1
        del self.lots[:done]
        return gross

    def mark_range(self, low: float, high: float) -> None:
        """Update MAE/MFE with the prices ``[low, high]`` seen while the position was held."""
        q = self.quantity
        if q == 0.0:
            return
        avg = self.avg_price
        if q > 0.0:
            adverse, favourable = q * (low - avg), q * (high - avg)
        else:
            adverse, favourable = q * (high - avg), q * (low - avg)
        if adverse < self.mae:
            self.mae = adverse
        if favourable > self.mfe:
            self.mfe = favourable

    def stop_levels(self) -> tuple[float, float]:
        """(stop-loss level, take-profit level) from ``entry_avg``, as the backtester sets them."""
        direction = 1.0 if self.quantity > 0.0 else -1.0
        return (self.entry_avg * (1.0 - direction * self.stop_loss),
                self.entry_avg * (1.0 + direction * self.take_profit))

    def stop_exit(self, open_: np.ndarray, high: float, low: float, ref_volume: float,
                  p: np.ndarray) -> tuple[str, float, float, float] | None:
        """This bar's intrabar stop exit, priced exactly as the backtester prices it.

        Args:
            open_: One-element array holding the bar's open (read by ``check_stops``).
            high: The bar's high.
            low: The bar's low.
            ref_volume: Volume of the previous bar (slippage reference).
            p: The backtester's parameter vector.

        Returns:
            None when no level is hit, else ``(kind, price, fee, slippage cost)``: a
            ``"stop_loss"`` at the level (or the gap open) less slippage with the taker fee,
            or a ``"take_profit"`` at the level (or a better gap open) with the maker fee.
        """
        sl_level, tp_level = self.stop_levels()
        q = self.quantity
        reason, level, _, _ = check_stops(q > 0.0, open_, 0, float(high), float(low), sl_level,
                                          tp_level, self.stop_loss > 0.0,
                                          self.take_profit > 0.0, 0.0, 0.0)
        if reason == NO_EXIT:
            return None
        qty = abs(q)
        if reason == REASON_STOP_LOSS:
            slip = slippage_fraction(qty, ref_volume, float(p[P_HALF_SPREAD]), p)
            price = level * (1.0 - (1.0 if q > 0.0 else -1.0) * slip)
            return "stop_loss", price, qty * price * float(p[P_TAKER_FEE]), \
                qty * abs(price - level)
        return "take_profit", level, qty * level * float(p[P_MAKER_FEE]), 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FifoPosition):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def unrealized(self, last_price: float) -> float:
        """``quantity * (last_price - avg_price)``."""
        return self.quantity * (last_price - self.avg_price) if self.quantity != 0.0 else 0.0

    def snapshot(self, last_price: float) -> PositionSnapshot:
        """The position as a :class:`PositionSnapshot` marked at ``last_price``."""
        return PositionSnapshot(self.symbol, self.tag, self.quantity, self.avg_price,
                                last_price, self.unrealized(last_price), self.realized_pnl,
                                self.mae, self.mfe, self.opened_ts)


def _average(lots: list[Lot]) -> float:
    if not lots:
        return 0.0
    if len(lots) == 1:
        return lots[0].price
    total = sum(lot.quantity for lot in lots)
    return sum(lot.quantity * lot.price for lot in lots) / total if total > 0.0 else 0.0


_PCT = 1e-2  # the constant build_params uses, so stop fractions match bit for bit


def set_exit_levels(position: FifoPosition, before: float, dq: float, strategy_id: str,
                    stop_loss_pct: float | None, take_profit_pct: float | None,
                    default_stop_loss: float, default_take_profit: float) -> None:
    """After a fill of ``dq`` on a position that held ``before``: the backtester's stop rule.

    A fill that opens, adds to or flips the position hands it to the order's strategy and
    sets its stop-loss and take-profit fractions from the order (%), or from the defaults
    (fractions) where the order names none; a reduction keeps them.

    Args:
        position: The position after the fill.
        before: Its signed quantity before the fill.
        dq: The fill's signed quantity.
        strategy_id: The order's strategy.
        stop_loss_pct: The order's stop-loss, % (None: the default).
        take_profit_pct: The order's take-profit, % (None: the default).
        default_stop_loss: Default stop-loss fraction (0 = none).
        default_take_profit: Default take-profit fraction (0 = none).
    """
    new = position.quantity
    grew = before == 0.0 or (before > 0.0) == (dq > 0.0) or (new > 0.0) != (before > 0.0)
    if new != 0.0 and grew:
        position.strategy_id = strategy_id
        position.stop_loss = (default_stop_loss if stop_loss_pct is None
                              else float(stop_loss_pct) * _PCT)
        position.take_profit = (default_take_profit if take_profit_pct is None
                                else float(take_profit_pct) * _PCT)
