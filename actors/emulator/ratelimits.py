"""Request weight and order-count limits as Binance applies them, with 429s and 418 bans.

Windows follow the **wall clock** (Binance counts real time, and a client's limiter runs on
real time too, whatever the replayed market's time): fixed windows per calendar minute for
the request weight, per 10 seconds and per UTC day for new orders. Every answer carries
``X-MBX-USED-WEIGHT-1M``; order requests also carry ``X-MBX-ORDER-COUNT-10S`` and
``X-MBX-ORDER-COUNT-1D``.

- The first request that takes the minute's weight over the limit gets HTTP 429, code -1003,
  with ``Retry-After`` = seconds to the window's end.
- Any further request in that window is an IP ban: HTTP 418 with ``Retry-After`` = the ban
  length, and every request until the ban ends gets 418 (weight is not counted meanwhile).
- Too many new orders: HTTP 429, code -1015 (no ban), ``Retry-After`` to the window's end.

Weights are those Binance documents for the spot REST API (``ENDPOINT_WEIGHTS``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from actors.emulator.config import RateLimits
from actors.emulator.errors import BinanceError

ENDPOINT_WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/allOrderList"): 20,
}
ORDER_ENDPOINTS: dict[tuple[str, str], int] = {
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/orderList/oco"): 2,
}
"""New orders each request places (counted against the ORDERS limits)."""


def request_weight(method: str, path: str, params: dict[str, str]) -> int:
    """Binance's weight of one request (1 for endpoints not listed)."""
    with_symbol = bool(params.get("symbol"))
    if path == "/api/v3/depth":
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "/api/v3/openOrders" and method == "GET":
        return 6 if with_symbol else 80
    if path == "/api/v3/ticker/24hr":
        return 2 if with_symbol else 80
    if path in ("/api/v3/ticker/price", "/api/v3/ticker/bookTicker"):
        return 2 if with_symbol else 4
    return ENDPOINT_WEIGHTS.get((method, path), 1)


@dataclass
class _Window:
    length_s: float
    index: int = -1
    used: int = 0

    def roll(self, now: float) -> None:
        index = int(now // self.length_s)
        if index != self.index:
            self.index, self.used = index, 0

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil((self.index + 1) * self.length_s - now))


class RateLimiter:
    """Counts weight and orders; decides 429 / 418. Thread-safe.

    Args:
        limits: The limits.
        wall: Wall-clock source in seconds (injectable for tests).
    """

    def __init__(self, limits: RateLimits, wall: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._wall = wall
        self._lock = threading.Lock()
        self._minute = _Window(60.0)
        self._ten = _Window(10.0)
        self._day = _Window(86_400.0)
        self._limited_window = -1
        self._banned_until = 0.0

    def admit(self, method: str, path: str, params: dict[str, str]) -> dict[str, str]:
        """Count one request; returns the headers to send with its answer.

        Raises:
            BinanceError: HTTP 429 (-1003 or -1015) or 418 (-1003) with ``Retry-After``.
        """
        with self._lock:
            now = self._wall()
            if now < self._banned_until:
                raise self._banned(now)
            self._minute.roll(now)
            self._minute.used += request_weight(method, path, params)
            headers = {"X-MBX-USED-WEIGHT-1M": str(self._minute.used)}
            if self._minute.used > self.limits.weight_per_minute:
                if self._limited_window == self._minute.index:
                    self._banned_until = now + self.limits.ban_s
                    raise self._banned(now)
                self._limited_window = self._minute.index
                raise BinanceError(
                    -1003, f"Too much request weight used; current limit is "
                           f"{self.limits.weight_per_minute} request weight per 1 MINUTE. "
                           "Please use WebSocket Streams for live updates to avoid polling "
                           "the API.", 429,
                    {**headers, "Retry-After": str(self._minute.retry_after(now))})
            orders = ORDER_ENDPOINTS.get((method, path), 0)
            if orders:
                self._ten.roll(now)
                self._day.roll(now)
                self._ten.used += orders
                self._day.used += orders
                headers["X-MBX-ORDER-COUNT-10S"] = str(self._ten.used)
                headers["X-MBX-ORDER-COUNT-1D"] = str(self._day.used)
                for window, limit, name in ((self._ten, self.limits.orders_per_10s,
                                             "10 SECOND"),
                                            (self._day, self.limits.orders_per_day, "1 DAY")):
                    if window.used > limit:
                        raise BinanceError(
                            -1015, f"Too many new orders; current limit is {limit} orders "
                                   f"per {name}.", 429,
                            {**headers, "Retry-After": str(window.retry_after(now))})
            return headers

    def _banned(self, now: float) -> BinanceError:
        until_ms = int(self._banned_until * 1000)
        return BinanceError(
            -1003, f"Way too much request weight used; IP banned until {until_ms}. Please use "
                   "WebSocket Streams for live updates to avoid bans.", 418,
            {"Retry-After": str(max(1, math.ceil(self._banned_until - now)))})

    def state(self) -> dict[str, object]:
        """Counters for the control API."""
        with self._lock:
            now = self._wall()
            return {"weight_1m": self._minute.used if self._minute.index == int(now // 60)
                    else 0, "banned_until_ms": int(self._banned_until * 1000)
                    if now < self._banned_until else None}
