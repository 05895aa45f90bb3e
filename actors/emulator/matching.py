"""How orders fill against replayed bars: the backtester's fill model, and the bar rules.

Prices (``side`` = +1 for a buy, -1 for a sell; ``slip`` from
``core.backtest.fills.slippage_fraction(qty, ref_volume, half_spread, params)`` with the
parameters ``core.backtest.params.build_params`` makes of the costs):

- MARKET: at the forming bar's open ``o``: ``o * (1 + side * slip)``, taker fee; the
  reference volume is the last closed bar's (the backtester's ``volume[i - 1]``);
- a marketable LIMIT (buy ``L >= o``, sell ``L <= o``): as a market order, price capped at
  ``L``, taker fee; IOC/FOK that are not marketable expire;
- resting LIMIT / LIMIT_MAKER, checked on every bar from the one forming when placed, once
  that bar has closed: a buy fills at the open if the bar opens at or below ``L`` (a gap:
  the better price), else at ``L`` if the low reaches it; sells mirrored; maker fee;
- STOP_LOSS / TAKE_PROFIT (market when triggered): trigger price ``P`` = the open if the bar
  gaps through the stop, else the stop if the range reaches it; fills at
  ``P * (1 + side * slip)`` on the previous bar's volume, taker fee (the backtester's
  stop-loss);
- STOP_LOSS_LIMIT: triggered as above; fills at once as a taker at ``P`` moved by slippage and
  capped at ``L`` if ``P`` is on the limit's good side, else rests as a LIMIT from the next bar;
- TAKE_PROFIT_LIMIT: triggered as above; fills at ``P`` with the maker fee if ``P`` is on the
  limit's good side (with ``L`` = stop this is the backtester's take-profit:
  ``max(open, level)``), else rests as a LIMIT from the next bar.

A touch fills (``low <= L``). Fees: ``qty * price * fee_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.emulator.orders import Order
from configs.backtest import BacktestConfig, CostsConfig
from core.backtest.fills import slippage_fraction
from core.backtest.layout import P_HALF_SPREAD, P_MAKER_FEE, P_MAX_SLIP, P_TAKER_FEE
from core.backtest.params import build_params


class FillModel:
    """The backtester's costs: fees and slippage from a :class:`CostsConfig`.

    Args:
        costs: Fees, half-spread, impact and slippage cap.
    """

    def __init__(self, costs: CostsConfig) -> None:
        self.params = build_params(BacktestConfig(costs=costs))
        self.taker = float(self.params[P_TAKER_FEE])
        self.maker = float(self.params[P_MAKER_FEE])
        self.half_spread = float(self.params[P_HALF_SPREAD])
        self.max_slippage = float(self.params[P_MAX_SLIP])

    def slippage(self, qty: float, ref_volume: float) -> float:
        """Slippage fraction of a ``qty`` taker fill against ``ref_volume``."""
        return float(slippage_fraction(qty, ref_volume, self.half_spread, self.params))

    def taker_price(self, level: float, is_buy: bool, qty: float, ref_volume: float) -> float:
        """``level`` moved against the taker by slippage (the kernel's arithmetic)."""
        side = 1.0 if is_buy else -1.0
        return level * (1.0 + side * self.slippage(qty, ref_volume))


@dataclass(frozen=True)
class BarFill:
    """What a bar does to a working order.

    Attributes:
        price: Fill price (None: no fill, see ``rest``).
        maker: Whether the fill pays the maker fee.
        at_open: Whether it happened at the bar's open (a gap).
        rest: The order triggered but now rests as a limit from the next bar.
    """

    price: float | None
    maker: bool = False
    at_open: bool = False
    rest: bool = False


NO_FILL = BarFill(None)


def _reached(is_buy_side_low: bool, level: float, o: float, h: float, low: float
             ) -> tuple[float, bool] | None:
    """Where a level is reached: (price, at_open) or None.

    ``is_buy_side_low``: the level is below the price (reached going down).
    """
    if is_buy_side_low:
        if o <= level:
            return o, True
        return (level, False) if low <= level else None
    if o >= level:
        return o, True
    return (level, False) if h >= level else None


def stop_below(order: Order) -> bool:
    """Whether a stop order's trigger sits below the price (sell stop-loss, buy take-profit)."""
    is_stop_loss = order.type.startswith("STOP_LOSS")
    return is_stop_loss != order.is_buy


def evaluate(order: Order, o: float, h: float, low: float, qty: float, ref_volume: float,
             model: FillModel) -> BarFill:
    """The fill a bar gives ``order`` (see the module docstring).

    Args:
        order: A working order.
        o: The bar's open.
        h: Its high.
        low: Its low.
        qty: Quantity that would fill (for slippage).
        ref_volume: Previous bar's volume (slippage reference).
        model: Fees and slippage.
    """
    kind = order.type
    if kind in ("LIMIT", "LIMIT_MAKER") or order.triggered:
        assert order.price is not None
        hit = _reached(order.is_buy, order.price, o, h, low)
        return NO_FILL if hit is None else BarFill(hit[0], maker=True, at_open=hit[1])
    assert order.stop_price is not None
    hit = _reached(stop_below(order), order.stop_price, o, h, low)
    if hit is None:
        return NO_FILL
    trigger, at_open = hit
    if kind in ("STOP_LOSS", "TAKE_PROFIT"):
        return BarFill(model.taker_price(trigger, order.is_buy, qty, ref_volume), False, at_open)
    limit = order.price
    assert limit is not None
    good = trigger <= limit if order.is_buy else trigger >= limit
    if not good:
        return BarFill(None, rest=True, at_open=at_open)
    if kind == "TAKE_PROFIT_LIMIT":
        return BarFill(trigger, maker=True, at_open=at_open)
    price = model.taker_price(trigger, order.is_buy, qty, ref_volume)
    price = min(price, limit) if order.is_buy else max(price, limit)
    return BarFill(price, maker=False, at_open=at_open)


def marketable(is_buy: bool, limit: float, price: float) -> bool:
    """Whether a limit order would take liquidity at ``price``."""
    return limit >= price if is_buy else limit <= price


def would_trigger(order_type: str, is_buy: bool, stop: float, price: float) -> bool:
    """Whether a stop order at ``stop`` would trigger at once at ``price``."""
    below = order_type.startswith("STOP_LOSS") != is_buy
    return price <= stop if below else price >= stop
