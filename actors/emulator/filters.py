"""Symbol rules: the exchangeInfo entry of a market and the filter checks of a new order.

Checks follow Binance's definitions (decimal arithmetic on the texts the client sent):

- PRICE_FILTER: ``minPrice <= price <= maxPrice`` and ``(price - minPrice) % tickSize == 0``
  (for ``price`` and ``stopPrice``);
- LOT_SIZE: ``minQty <= qty <= maxQty`` and ``(qty - minQty) % stepSize == 0``;
- MARKET_LOT_SIZE: market orders' ``qty <= maxQty``;
- NOTIONAL / MIN_NOTIONAL: ``price * qty >= minNotional`` (market orders at the current
  price), and ``<= maxNotional`` for non-market orders;
- MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS: open orders / open stop orders per symbol.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.emulator.config import MarketSpec
from actors.emulator.errors import filter_failure
from actors.emulator.orders import ORDER_TYPES
from actors.emulator.params import fmt_decimal


def symbol_info(market_id: str, base: str, quote: str, spec: MarketSpec) -> dict[str, Any]:
    """The ``symbols`` entry of exchangeInfo, with the fields ccxt's ``parse_market`` reads."""
    notional: dict[str, Any]
    if spec.notional_filter == "NOTIONAL":
        notional = {"filterType": "NOTIONAL", "minNotional": fmt_decimal(spec.min_notional),
                    "applyMinToMarket": True, "maxNotional": fmt_decimal(spec.max_notional),
                    "applyMaxToMarket": False, "avgPriceMins": 5}
    else:
        notional = {"filterType": "MIN_NOTIONAL", "minNotional": fmt_decimal(spec.min_notional),
                    "applyToMarket": True, "avgPriceMins": 5}
    return {
        "symbol": market_id, "status": "TRADING",
        "baseAsset": base, "baseAssetPrecision": 8,
        "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": list(ORDER_TYPES),
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt_decimal(spec.min_price),
             "maxPrice": fmt_decimal(spec.max_price), "tickSize": fmt_decimal(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt_decimal(spec.min_qty),
             "maxQty": fmt_decimal(spec.max_qty), "stepSize": fmt_decimal(spec.step_size)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
             "maxQty": fmt_decimal(spec.market_max_qty), "stepSize": "0.00000000"},
            notional,
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": spec.max_num_algo_orders},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER",
                                            "EXPIRE_BOTH"],
    }


def rate_limits_info(weight: int, orders_10s: int, orders_day: int) -> list[dict[str, Any]]:
    """ExchangeInfo's ``rateLimits``."""
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": weight},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
         "limit": orders_10s},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": orders_day},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
         "limit": 61000},
    ]


def check_price(spec: MarketSpec, price: Decimal) -> None:
    """PRICE_FILTER.

    Raises:
        BinanceError: -1013 ``Filter failure: PRICE_FILTER``.
    """
    if not spec.min_price <= price <= spec.max_price or \
            (price - spec.min_price) % spec.tick_size != 0:
        raise filter_failure("PRICE_FILTER")


def check_quantity(spec: MarketSpec, qty: Decimal, market: bool) -> None:
    """LOT_SIZE (and MARKET_LOT_SIZE for market orders).

    Raises:
        BinanceError: -1013 ``Filter failure: LOT_SIZE`` / ``MARKET_LOT_SIZE``.
    """
    if not spec.min_qty <= qty <= spec.max_qty or (qty - spec.min_qty) % spec.step_size != 0:
        raise filter_failure("LOT_SIZE")
    if market and qty > spec.market_max_qty:
        raise filter_failure("MARKET_LOT_SIZE")


def check_notional(spec: MarketSpec, notional: Decimal, market: bool) -> None:
    """NOTIONAL or MIN_NOTIONAL (whichever the market lists).

    Raises:
        BinanceError: -1013 ``Filter failure: NOTIONAL`` (or ``MIN_NOTIONAL``).
    """
    if notional < spec.min_notional or (not market and notional > spec.max_notional):
        raise filter_failure(spec.notional_filter)


def check_open_counts(spec: MarketSpec, open_orders: int, open_algo: int, is_algo: bool,
                      new_orders: int = 1) -> None:
    """MAX_NUM_ORDERS and MAX_NUM_ALGO_ORDERS.

    Raises:
        BinanceError: -1013 ``Filter failure: MAX_NUM_ORDERS`` / ``MAX_NUM_ALGO_ORDERS``.
    """
    if open_orders + new_orders > spec.max_num_orders:
        raise filter_failure("MAX_NUM_ORDERS")
    if is_algo and open_algo + new_orders > spec.max_num_algo_orders:
        raise filter_failure("MAX_NUM_ALGO_ORDERS")


def floor_to_step(qty: float, step: Decimal) -> float:
    """``qty`` rounded down to the lot step."""
    units = (Decimal(repr(qty)) / step).to_integral_value(rounding="ROUND_FLOOR")
    return float(units * step)
