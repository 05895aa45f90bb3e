"""A Binance spot REST emulator on 127.0.0.1 for offline tests of the ccxt adapters.

It answers what ccxt's ``binance`` class asks for, in Binance's own formats:

- ``GET /api/v3/ping``, ``GET /api/v3/time``;
- ``GET /api/v3/exchangeInfo``: one entry per listed market, with the fields and filters
  ccxt's ``parse_market`` reads (symbol, status, base/quote assets and precisions,
  PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL, permissionSets, order types);
- ``GET /api/v3/klines`` (``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit``):
  12-field rows with prices as strings, served from real candles the test loads.

Tests point ccxt at it with ``make_exchange("binance", api_url=emulator.url)``. The server,
routing, fault injection and request log come from :mod:`tests.actors.http_emulator`; order
and account endpoints can be added later with :meth:`BinanceSpotEmulator.route`. The fault
factories below reproduce Binance's answers: :func:`rate_limited` (429 + ``Retry-After``),
:func:`gateway_error` (502/503/504 HTML), :func:`overloaded` (503 with code -1008) and
:func:`binance_error` (HTTP 400 ``{"code": ..., "msg": ...}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.data.candles import Candles
from core.data.naming import parse_symbol
from core.data.timeframes import TIMEFRAME_MS
from tests.actors.http_emulator import Fault, HttpEmulator, LoggedRequest, Reply, Request

__all__ = [
    "BinanceSpotEmulator", "Fault", "LoggedRequest", "MarketSpec", "Reply", "Request",
    "binance_error", "gateway_error", "overloaded", "rate_limited",
]

MAX_KLINES = 1000


def binance_error(code: int, msg: str, status: int = 400) -> Reply:
    """Binance's error body: ``{"code": -1121, "msg": "Invalid symbol."}``."""
    return Reply.json({"code": code, "msg": msg}, status)


def rate_limited(path: str, nth: int, retry_after_s: int = 1) -> Fault:
    """HTTP 429 with ``Retry-After``, as Binance answers when the request weight is exceeded."""
    reply = Reply.json({"code": -1003, "msg": "Too many requests; current limit is 6000 "
                        "request weight per 1 MINUTE."}, 429, {"Retry-After": str(retry_after_s)})
    return Fault(path, nth, reply, label="429")


def gateway_error(path: str, nth: int, status: int = 502, times: int = 1) -> Fault:
    """A gateway error with an HTML body (what the load balancer in front of Binance sends)."""
    return Fault(path, nth, Reply.html(status, "Bad Gateway"), times, label=str(status))


def overloaded(path: str, nth: int) -> Fault:
    """HTTP 503 with Binance's JSON body for an overloaded server (code -1008)."""
    reply = binance_error(-1008, "Server is currently overloaded with other requests. "
                          "Please try again in a few minutes.", 503)
    return Fault(path, nth, reply, label="503")


@dataclass(frozen=True)
class MarketSpec:
    """Trading rules of a listed market (the exchangeInfo filters)."""

    tick_size: str = "0.01000000"
    step_size: str = "0.00001000"
    min_qty: str = "0.00001000"
    max_qty: str = "9000.00000000"
    min_notional: str = "5.00000000"


def _num(value: float) -> str:
    """Binance's 8-decimal text when it is exact, else the shortest exact repr."""
    text = f"{value:.8f}"
    return text if float(text) == value else repr(float(value))


class BinanceSpotEmulator(HttpEmulator):
    """Binance spot over HTTP (see the module docstring).

    Args:
        now_ms: The venue's clock for ``/api/v3/time`` and for hiding bars that open later
            (the bar open at ``now_ms`` is served: it is the still-forming candle);
            None uses the wall clock.
    """

    def __init__(self, *, now_ms: int | None = None) -> None:
        super().__init__(now_ms=now_ms)
        self._markets: dict[str, tuple[str, str, MarketSpec]] = {}
        self._series: dict[tuple[str, str], Candles] = {}
        self.route("GET", "/api/v3/ping", lambda request: Reply.json({}))
        self.route("GET", "/api/v3/time", lambda request: Reply.json({"serverTime": self.now_ms()}))
        self.route("GET", "/api/v3/exchangeInfo", self._exchange_info)
        self.route("GET", "/api/v3/klines", self._klines)

    def list_market(self, symbol: str, spec: MarketSpec | None = None) -> None:
        """List a spot market such as ``"BTC/USDT"`` in exchangeInfo."""
        base, quote = parse_symbol(symbol)
        self._markets[base + quote] = (base, quote, spec or MarketSpec())

    def add_series(self, symbol: str, interval: str, candles: Candles) -> None:
        """Serve ``candles`` as the klines of ``symbol`` at ``interval`` (lists the market)."""
        if interval not in TIMEFRAME_MS:
            raise ValueError(f"unknown interval {interval!r}")
        self.list_market(symbol)
        base, quote = parse_symbol(symbol)
        self._series[(base + quote, interval)] = candles

    def _exchange_info(self, request: Request) -> Reply:
        symbols = [self._market_info(market_id, *entry) for market_id, entry in
                   sorted(self._markets.items())]
        return Reply.json({
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        })

    @staticmethod
    def _market_info(market_id: str, base: str, quote: str, spec: MarketSpec) -> dict[str, Any]:
        return {
            "symbol": market_id, "status": "TRADING",
            "baseAsset": base, "baseAssetPrecision": 8,
            "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT",
                           "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
            "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": spec.tick_size,
                 "maxPrice": "1000000.00000000", "tickSize": spec.tick_size},
                {"filterType": "LOT_SIZE", "minQty": spec.min_qty, "maxQty": spec.max_qty,
                 "stepSize": spec.step_size},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000",
                 "maxQty": spec.max_qty, "stepSize": "0.00000000"},
                {"filterType": "NOTIONAL", "minNotional": spec.min_notional,
                 "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _klines(self, request: Request) -> Reply:
        params = request.params
        market_id, interval = params.get("symbol"), params.get("interval")
        if market_id is None or interval is None:
            missing = "symbol" if market_id is None else "interval"
            return binance_error(-1102, f"Mandatory parameter '{missing}' was not sent, "
                                       "was empty/null, or malformed.")
        if market_id not in self._markets:
            return binance_error(-1121, "Invalid symbol.")
        if interval not in TIMEFRAME_MS:
            return binance_error(-1120, "Invalid interval.")
        try:
            limit = int(params.get("limit", 500))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return binance_error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= MAX_KLINES:
            return binance_error(-1130, "Invalid data sent for a parameter.")
        candles = self._series.get((market_id, interval))
        if candles is None:
            return Reply.json([])
        stamps = candles.timestamp
        latest = min(self.now_ms(), end) if end is not None else self.now_ms()
        hi = int(np.searchsorted(stamps, latest, "right"))
        if start is not None:
            lo = int(np.searchsorted(stamps, start, "left"))
            hi = min(hi, lo + limit)
        else:
            lo = max(0, hi - limit)
        step = TIMEFRAME_MS[interval]
        rows = [
            [int(stamps[i]), _num(candles.open[i]), _num(candles.high[i]), _num(candles.low[i]),
             _num(candles.close[i]), _num(candles.volume[i]), int(stamps[i]) + step - 1,
             _num(candles.volume[i] * candles.close[i]), 1000, _num(candles.volume[i] / 2),
             _num(candles.volume[i] * candles.close[i] / 2), "0"]
            for i in range(lo, max(lo, hi))
        ]
        return Reply.json(rows)
