"""A new order's parameters read and checked the way Binance does, before it reaches the book.

:func:`read_new_order` checks, in Binance's order: the symbol (-1121), side (-1117), type
(-1116), the parameters the type needs (-1102 missing, -1106 not required, -1100 illegal
text, -1115 bad timeInForce), the client order id's charset, ``newOrderRespType``, and the
PRICE_FILTER / LOT_SIZE filters (-1013). Checks that need the market's state (notional at
the current price, balances, duplicates, open-order counts) are the venue's.

Per type (Binance spot):

==================  ======================================================
LIMIT               timeInForce, quantity, price
MARKET              quantity or quoteOrderQty
STOP_LOSS           quantity, stopPrice
STOP_LOSS_LIMIT     timeInForce, quantity, price, stopPrice
TAKE_PROFIT         quantity, stopPrice
TAKE_PROFIT_LIMIT   timeInForce, quantity, price, stopPrice
LIMIT_MAKER         quantity, price
==================  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from actors.emulator.config import MarketSpec
from actors.emulator.errors import (
    BinanceError,
    invalid_order_type,
    invalid_side,
    invalid_symbol,
    invalid_time_in_force,
    mandatory,
    not_required,
)
from actors.emulator.filters import check_price, check_quantity
from actors.emulator.market import Series
from actors.emulator.orders import ORDER_TYPES
from actors.emulator.params import Params

TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESPONSE_TYPES = ("ACK", "RESULT", "FULL")
_NEEDS_PRICE = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_NEEDS_STOP = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_NEEDS_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})


@dataclass(frozen=True)
class NewOrder:
    """A new order whose parameters passed Binance's static checks.

    Attributes:
        series: The market's bars.
        spec: The market's rules.
        side: ``BUY`` / ``SELL``.
        type: Order type.
        time_in_force: For the types that take one.
        qty: Quantity (None for a market order by ``quoteOrderQty``).
        qty_text: The quantity as sent.
        price: Limit price.
        price_text: As sent.
        stop_price: Trigger price.
        quote_qty: ``quoteOrderQty`` of a market order.
        client_order_id: ``newClientOrderId`` (None: the venue generates one).
        response_type: ACK, RESULT or FULL.
    """

    series: Series
    spec: MarketSpec
    side: str
    type: str
    time_in_force: str | None
    qty: float | None
    qty_text: Decimal | None
    price: float | None
    price_text: Decimal | None
    stop_price: float | None
    quote_qty: float | None
    client_order_id: str | None
    response_type: str

    @property
    def is_buy(self) -> bool:
        """Whether it buys."""
        return self.side == "BUY"


def read_symbol(params: Params, series_of: dict[str, Series]) -> Series:
    """The ``symbol`` parameter's market.

    Raises:
        BinanceError: -1102 when missing, -1121 when not listed.
    """
    series = series_of.get(params.text("symbol"))
    if series is None:
        raise invalid_symbol()
    return series


def read_new_order(params: Params, series_of: dict[str, Series],
                   specs: dict[str, MarketSpec], prefix: str = "") -> NewOrder:
    """Read and statically check a new order (``prefix`` reads an OCO leg: ``above``/``below``).

    Raises:
        BinanceError: With Binance's code (see the module docstring).
    """
    series = read_symbol(params, series_of)
    spec = specs[series.market_id]
    side = params.choice("side", ("BUY", "SELL"), invalid_side())
    assert side is not None
    kind = params.choice(_key(prefix, "type"), ORDER_TYPES, invalid_order_type())
    assert kind is not None
    price_key, stop_key, tif_key = (_key(prefix, "price"), _key(prefix, "stopPrice"),
                                    _key(prefix, "timeInForce"))
    if kind not in _NEEDS_PRICE and params.has(price_key):
        raise not_required(price_key)
    if kind not in _NEEDS_STOP and params.has(stop_key):
        raise not_required(stop_key)
    tif = None
    if kind in _NEEDS_TIF:
        tif = params.choice(tif_key, TIME_IN_FORCE, invalid_time_in_force())
    elif params.has(tif_key) and kind != "LIMIT_MAKER":
        raise not_required(tif_key)
    qty_text = params.decimal("quantity", required=False)
    quote_text = params.decimal("quoteOrderQty", required=False) if not prefix else None
    if kind == "MARKET":
        if qty_text is None and quote_text is None:
            raise BinanceError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but "
                                      "both were empty/null!")
        if qty_text is not None and quote_text is not None:
            raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    elif qty_text is None:
        raise mandatory("quantity")
    elif quote_text is not None:
        raise not_required("quoteOrderQty")
    price_text = params.decimal(price_key, required=kind in _NEEDS_PRICE)
    stop_text = params.decimal(stop_key, required=kind in _NEEDS_STOP)
    client_id = params.client_id(_key(prefix, "ClientOrderId") if prefix else "newClientOrderId")
    default_response = "FULL" if kind in ("MARKET", "LIMIT") else "ACK"
    response = params.choice("newOrderRespType", RESPONSE_TYPES, required=False,
                             default=default_response)
    assert response is not None
    for value in (price_text, stop_text):
        if value is not None:
            check_price(spec, value)
    if qty_text is not None:
        check_quantity(spec, qty_text, market=kind == "MARKET")
    if quote_text is not None and quote_text <= 0:
        raise BinanceError(-1013, "Invalid quoteOrderQty.")
    return NewOrder(series, spec, side, kind, tif,
                    float(qty_text) if qty_text is not None else None, qty_text,
                    float(price_text) if price_text is not None else None, price_text,
                    float(stop_text) if stop_text is not None else None,
                    float(quote_text) if quote_text is not None else None,
                    client_id, response)


def _key(prefix: str, name: str) -> str:
    """``price`` -> ``abovePrice`` for an OCO leg."""
    return name if not prefix else prefix + name[0].upper() + name[1:]
