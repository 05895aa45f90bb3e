"""Binance's public market endpoints: ping, time, exchangeInfo, klines, depth, tickers.

Each handler takes a :class:`~actors.emulator.routes.Call` and returns the JSON payload
Binance sends (errors are raised as :class:`~actors.emulator.errors.BinanceError`).
"""

from __future__ import annotations

import json
from typing import Any

from actors.emulator.errors import BinanceError, invalid_interval, invalid_symbol, mandatory
from actors.emulator.filters import rate_limits_info, symbol_info
from actors.emulator.market import Series
from actors.emulator.params import fmt
from actors.emulator.routes import Call, Routes
from core.data.timeframes import TIMEFRAME_MS

_INTERVALS = (*TIMEFRAME_MS, "1s", "1w", "1M")


def _series(call: Call, required: bool = True) -> Series | None:
    market_id = call.params.raw("symbol")
    if market_id is None:
        if required:
            raise mandatory("symbol")
        return None
    series = call.venue.market.get(market_id)
    if series is None:
        raise invalid_symbol()
    return series


def ping(call: Call) -> Any:
    """``GET /api/v3/ping``."""
    return {}


def server_time(call: Call) -> Any:
    """``GET /api/v3/time``: venue time plus any injected clock skew."""
    return {"serverTime": call.server_ms}


def exchange_info(call: Call) -> Any:
    """``GET /api/v3/exchangeInfo`` (optionally ``symbol`` or ``symbols=["A","B"]``)."""
    venue = call.venue
    wanted: list[str] | None = None
    if call.params.has("symbol"):
        wanted = [call.params.text("symbol")]
    elif call.params.has("symbols"):
        try:
            wanted = [str(s) for s in json.loads(call.params.text("symbols"))]
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'; "
                                      "legal range is '^\\[\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]"
                                      "{1,20}\"){0,}\\]$'.") from None
    if wanted is not None and any(s not in venue.market.series for s in wanted):
        raise invalid_symbol()
    limits = venue.config.rate_limits
    symbols = [symbol_info(s.market_id, s.base, s.quote, venue.specs[s.market_id])
               for market_id, s in sorted(venue.market.series.items())
               if wanted is None or market_id in wanted]
    return {"timezone": "UTC", "serverTime": call.server_ms,
            "rateLimits": rate_limits_info(limits.weight_per_minute, limits.orders_per_10s,
                                           limits.orders_per_day),
            "exchangeFilters": [], "symbols": symbols}


def klines(call: Call) -> Any:
    """``GET /api/v3/klines``: closed bars only, 12-field rows (see ``Market.klines``)."""
    params = call.params
    series = _series(call)
    assert series is not None
    interval = params.text("interval")
    if interval not in _INTERVALS or interval != call.venue.market.timeframe:
        raise invalid_interval()
    limit = params.limit(default=500, maximum=1000)
    start = params.integer("startTime")
    end = params.integer("endTime")
    if start is not None and end is not None and start > end:
        raise BinanceError(-1128, "Combination of optional parameters invalid.")
    return call.venue.market.klines(series, call.venue_ms, start, end, limit,
                                    call.venue.config.serve_forming)


def depth(call: Call) -> Any:
    """``GET /api/v3/depth``: a synthetic book around the current price."""
    series = _series(call)
    assert series is not None
    limit = call.params.limit(default=100, maximum=5000)
    venue = call.venue
    spec = venue.specs[series.market_id]
    bids, asks = venue.market.depth(series, call.venue_ms, limit, venue.model.half_spread,
                                    spec.tick_size, spec.step_size,
                                    venue.config.depth_level_share)
    return {"lastUpdateId": call.venue_ms, "bids": bids, "asks": asks}


def _each(call: Call) -> list[Series]:
    series = _series(call, required=False)
    return [series] if series is not None else [
        s for _, s in sorted(call.venue.market.series.items())]


def _one_or_all(call: Call, rows: list[dict[str, Any]]) -> Any:
    return rows[0] if call.params.has("symbol") else rows


def ticker_price(call: Call) -> Any:
    """``GET /api/v3/ticker/price``: the current price (the forming bar's open)."""
    market = call.venue.market
    return _one_or_all(call, [{"symbol": s.market_id,
                               "price": fmt(market.current_price(s, call.venue_ms) or 0.0)}
                              for s in _each(call)])


def book_ticker(call: Call) -> Any:
    """``GET /api/v3/ticker/bookTicker``: the best level of the synthetic book."""
    rows = []
    venue = call.venue
    for s in _each(call):
        spec = venue.specs[s.market_id]
        bids, asks = venue.market.depth(s, call.venue_ms, 1, venue.model.half_spread,
                                        spec.tick_size, spec.step_size,
                                        venue.config.depth_level_share)
        bid, ask = (bids or [["0.00000000", "0.00000000"]])[0], (
            asks or [["0.00000000", "0.00000000"]])[0]
        rows.append({"symbol": s.market_id, "bidPrice": bid[0], "bidQty": bid[1],
                     "askPrice": ask[0], "askQty": ask[1]})
    return _one_or_all(call, rows)


def ticker_24hr(call: Call) -> Any:
    """``GET /api/v3/ticker/24hr`` over the closed bars of the last 24 hours."""
    rows = []
    market = call.venue.market
    for s in _each(call):
        hi = market.closed_count(s, call.venue_ms)
        lo = int(s.ts.searchsorted(call.venue_ms - 86_400_000, "left"))
        if hi <= lo:
            lo = max(hi - 1, 0)
        sl = slice(lo, max(hi, lo + 1)) if len(s) else slice(0, 0)
        first_open = float(s.open[sl][0]) if len(s.open[sl]) else 0.0
        last = market.current_price(s, call.venue_ms) or 0.0
        volume = float(s.volume[sl].sum())
        rows.append({
            "symbol": s.market_id, "priceChange": fmt(last - first_open),
            "priceChangePercent": f"{(last / first_open - 1) * 100 if first_open else 0:.3f}",
            "weightedAvgPrice": fmt(float((s.close[sl] * s.volume[sl]).sum()) / volume
                                    if volume else last),
            "prevClosePrice": fmt(float(s.close[lo - 1]) if lo > 0 else first_open),
            "lastPrice": fmt(last), "lastQty": "0.00000000", "bidPrice": fmt(last),
            "bidQty": "0.00000000", "askPrice": fmt(last), "askQty": "0.00000000",
            "openPrice": fmt(first_open),
            "highPrice": fmt(float(s.high[sl].max()) if len(s.high[sl]) else 0.0),
            "lowPrice": fmt(float(s.low[sl].min()) if len(s.low[sl]) else 0.0),
            "volume": fmt(volume), "quoteVolume": fmt(float((s.close[sl] * s.volume[sl]).sum())),
            "openTime": int(s.ts[sl][0]) if len(s.ts[sl]) else 0, "closeTime": call.venue_ms,
            "firstId": 0, "lastId": 0, "count": int(hi - lo)})
    return _one_or_all(call, rows)


def avg_price(call: Call) -> Any:
    """``GET /api/v3/avgPrice``: mean close of the last 5 closed one-minute-or-longer bars."""
    series = _series(call)
    assert series is not None
    hi = call.venue.market.closed_count(series, call.venue_ms)
    closes = series.close[max(hi - 5, 0):hi]
    price = float(closes.mean()) if len(closes) else (
        call.venue.market.current_price(series, call.venue_ms) or 0.0)
    return {"mins": 5, "price": fmt(price), "closeTime": call.venue_ms}


def register(routes: Routes) -> None:
    """Add the public endpoints to ``routes``."""
    routes.add("GET", "/api/v3/ping", ping)
    routes.add("GET", "/api/v3/time", server_time)
    routes.add("GET", "/api/v3/exchangeInfo", exchange_info)
    routes.add("GET", "/api/v3/klines", klines)
    routes.add("GET", "/api/v3/depth", depth)
    routes.add("GET", "/api/v3/ticker/price", ticker_price)
    routes.add("GET", "/api/v3/ticker/bookTicker", book_ticker)
    routes.add("GET", "/api/v3/ticker/24hr", ticker_24hr)
    routes.add("GET", "/api/v3/avgPrice", avg_price)
