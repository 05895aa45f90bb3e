"""A venue's trading rules for one market, and orders shaped to them before they leave.

A real venue refuses an order whose quantity is not a multiple of its lot step, whose price is
off its tick grid, or whose notional is under its minimum (Binance: ``LOT_SIZE``,
``PRICE_FILTER``, ``NOTIONAL`` / ``MIN_NOTIONAL`` filters, answered with -1013 "Filter
failure"). :func:`shape_order` applies the same rules locally, so such an order never reaches
the venue: a quantity that rounds to nothing, or breaks a limit, is a recorded denial with a
stable reason code (checked in the order of :data:`RULE_REASONS`), not an exception.

Arithmetic is decimal: ``0.3 / 0.1`` in binary floating point is ``2.9999999999999996``, which
would floor a valid quantity one step down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

RULE_REASONS = (
    "quantity_rounds_to_zero",
    "below_min_quantity",
    "above_max_quantity",
    "below_min_notional",
    "above_max_notional",
)
"""Reason codes of :class:`RuleDenial`, in the order they are checked."""


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What a venue accepts for one market (0 = no such rule).

    Attributes:
        symbol: Unified symbol, e.g. ``"BTC/USDT"``.
        venue_symbol: The venue's own id, e.g. ``"BTCUSDT"``.
        base: Base asset.
        quote: Quote asset.
        step_size: Quantity grid (``LOT_SIZE.stepSize``).
        min_quantity: Smallest quantity.
        max_quantity: Largest quantity.
        market_step_size: Quantity grid of market orders (``MARKET_LOT_SIZE``; 0 = as limit).
        market_max_quantity: Largest market-order quantity (0 = as limit).
        tick_size: Price grid (``PRICE_FILTER.tickSize``).
        min_notional: Smallest ``quantity * price``.
        max_notional: Largest ``quantity * price``.
        min_notional_applies_to_market: Whether market orders are checked against
            ``min_notional`` (Binance's ``applyMinToMarket``), at the reference price.
    """

    symbol: str
    venue_symbol: str
    base: str
    quote: str
    step_size: float = 0.0
    min_quantity: float = 0.0
    max_quantity: float = 0.0
    market_step_size: float = 0.0
    market_max_quantity: float = 0.0
    tick_size: float = 0.0
    min_notional: float = 0.0
    max_notional: float = 0.0
    min_notional_applies_to_market: bool = True

    def __post_init__(self) -> None:
        for name in ("step_size", "min_quantity", "max_quantity", "market_step_size",
                     "market_max_quantity", "tick_size", "min_notional", "max_notional"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{self.symbol}: {name} must be finite and >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class ShapedOrder:
    """An order the venue's rules accept.

    Attributes:
        quantity: Absolute quantity on the venue's grid (rounded down, never up).
        price: Limit or trigger price on the tick grid (None for a market order).
        notional: ``quantity * reference price``.
    """

    quantity: float
    price: float | None
    notional: float


@dataclass(frozen=True, slots=True)
class RuleDenial:
    """An order the venue's rules would refuse.

    Attributes:
        reason: One of :data:`RULE_REASONS`.
        detail: The numbers behind it.
    """

    reason: str
    detail: str


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


_SNAP = Decimal("1e-9")
"""A quantity within this many steps under a multiple is that multiple (binary noise of sums
such as ``0.00475 + 0.00001 = 0.0047599999999999995`` must not lose a whole step)."""


def floor_to_step(quantity: float, step: float) -> float:
    """``quantity`` rounded down to a multiple of ``step`` (unchanged when ``step`` is 0)."""
    if step <= 0.0:
        return float(quantity)
    q, s = _decimal(quantity), _decimal(step)
    steps = q / s
    nearest = steps.to_integral_value(rounding=ROUND_HALF_EVEN)
    if abs(steps - nearest) <= _SNAP:
        return float(nearest * s)
    return float(steps.to_integral_value(rounding=ROUND_DOWN) * s)


def round_to_tick(price: float, tick: float) -> float:
    """``price`` rounded to the nearest multiple of ``tick`` (unchanged when ``tick`` is 0)."""
    if tick <= 0.0:
        return float(price)
    p, t = _decimal(price), _decimal(tick)
    return float((p / t).to_integral_value(rounding=ROUND_HALF_EVEN) * t)


def shape_order(quantity: float, reference_price: float, rules: MarketRules,
                price: float | None = None) -> ShapedOrder | RuleDenial:
    """Put an order on the venue's grids and check its limits.

    Args:
        quantity: Wanted absolute quantity (base asset).
        reference_price: Price the notional is judged at (the decision close for a market
            order).
        rules: The market's rules.
        price: Limit or trigger price (None: a market order).

    Returns:
        The shaped order, or the first rule it breaks (:data:`RULE_REASONS` order).

    Raises:
        ValueError: ``quantity`` negative or not finite, ``reference_price`` not positive.
    """
    if not (math.isfinite(quantity) and quantity >= 0.0):
        raise ValueError(f"{rules.symbol}: quantity must be finite and >= 0, got {quantity!r}")
    if not (math.isfinite(reference_price) and reference_price > 0.0):
        raise ValueError(f"{rules.symbol}: reference price must be > 0, got {reference_price!r}")
    market = price is None
    step = rules.market_step_size if market and rules.market_step_size > 0 else rules.step_size
    max_quantity = (rules.market_max_quantity if market and rules.market_max_quantity > 0
                    else rules.max_quantity)
    shaped_quantity = floor_to_step(quantity, step)
    shaped_price = None if market else round_to_tick(price, rules.tick_size)
    judged_price = reference_price if shaped_price is None else shaped_price
    notional = shaped_quantity * judged_price
    if shaped_quantity <= 0.0:
        return RuleDenial("quantity_rounds_to_zero",
                          f"{quantity:g} {rules.base} is under one step of {step:g}")
    if rules.min_quantity > 0.0 and shaped_quantity < rules.min_quantity:
        return RuleDenial("below_min_quantity",
                          f"{shaped_quantity:g} < min {rules.min_quantity:g} {rules.base}")
    if max_quantity > 0.0 and shaped_quantity > max_quantity:
        return RuleDenial("above_max_quantity",
                          f"{shaped_quantity:g} > max {max_quantity:g} {rules.base}")
    checks_min = rules.min_notional > 0.0 and (not market
                                               or rules.min_notional_applies_to_market)
    if checks_min and notional < rules.min_notional:
        return RuleDenial("below_min_notional",
                          f"{notional:.8g} < min {rules.min_notional:g} {rules.quote}")
    if rules.max_notional > 0.0 and notional > rules.max_notional:
        return RuleDenial("above_max_notional",
                          f"{notional:.8g} > max {rules.max_notional:g} {rules.quote}")
    return ShapedOrder(shaped_quantity, shaped_price, notional)
