"""A venue's request limits as the venue itself reports them (pure; times are passed in).

Binance counts request weight per minute and orders per 10 seconds and per day, in fixed
windows aligned to the clock, and says where we stand in every answer
(``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S``, ``X-MBX-ORDER-COUNT-1D``). Going over
gets HTTP 429 with ``Retry-After``; sending on after a 429 gets HTTP 418, an IP ban until the
time ``Retry-After`` names. :class:`VenueRateLimiter` follows those headers rather than a
guess, keeps a headroom under each limit, waits for the next window when a request would not
fit, and sends nothing while a 429 or a ban is in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WEIGHT_HEADER = "x-mbx-used-weight-1m"
ORDER_HEADERS = {"x-mbx-order-count-10s": 10_000, "x-mbx-order-count-1d": 86_400_000}
"""Order-count headers -> the length of their window (ms)."""
DEFAULT_RETRY_AFTER_S = 60.0
"""Wait after a 429/418 whose answer named no ``Retry-After``."""


@dataclass(frozen=True, slots=True)
class RateLimits:
    """A venue account's request limits (Binance spot defaults).

    Attributes:
        weight_per_minute: Request weight per minute.
        orders_per_10s: Orders per 10 seconds.
        orders_per_day: Orders per day.
        headroom: Fraction of each limit this client allows itself.
    """

    weight_per_minute: int = 6_000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    headroom: float = 0.9

    def __post_init__(self) -> None:
        if min(self.weight_per_minute, self.orders_per_10s, self.orders_per_day) < 1:
            raise ValueError("rate limits must be >= 1")
        if not 0.0 < self.headroom <= 1.0:
            raise ValueError(f"headroom must be in (0, 1], got {self.headroom!r}")

    def limit_of(self, header: str) -> int:
        """The limit a header counts against."""
        if header == WEIGHT_HEADER:
            return self.weight_per_minute
        return self.orders_per_10s if header.endswith("10s") else self.orders_per_day


def _window_ms(header: str) -> int:
    return 60_000 if header == WEIGHT_HEADER else ORDER_HEADERS[header]


class VenueRateLimiter:
    """Where we stand against the venue's limits, and how long to wait before a request.

    Args:
        limits: The account's limits.
    """

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self._used: dict[str, tuple[int, int]] = {}  # header -> (window start ms, count)
        self.blocked_until_ms = 0
        self.banned = False

    def observe(self, headers: Mapping[str, str], now_ms: int) -> None:
        """Read the counters of an answer received at ``now_ms``."""
        lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
        for header in (WEIGHT_HEADER, *ORDER_HEADERS):
            value = lowered.get(header)
            if value is None:
                continue
            try:
                count = int(value)
            except (TypeError, ValueError):
                continue
            window = _window_ms(header)
            self._used[header] = (now_ms - now_ms % window, count)

    def refused(self, status: int, retry_after_s: float | None, now_ms: int) -> None:
        """The venue answered 429 (limited) or 418 (banned) at ``now_ms``."""
        wait_s = DEFAULT_RETRY_AFTER_S if retry_after_s is None else max(0.0, retry_after_s)
        self.blocked_until_ms = max(self.blocked_until_ms, now_ms + int(wait_s * 1000))
        self.banned = status == 418

    def used(self, header: str, now_ms: int) -> int:
        """The count of ``header``'s window at ``now_ms`` (0 in a window not seen yet)."""
        seen = self._used.get(header)
        if seen is None:
            return 0
        start, count = seen
        return count if now_ms - start < _window_ms(header) else 0

    def delay_ms(self, now_ms: int, weight: int = 1, orders: int = 0) -> int:
        """How long to wait before a request of ``weight`` placing ``orders`` orders."""
        wait = max(0, self.blocked_until_ms - now_ms)
        checks = [(WEIGHT_HEADER, weight)] + [(h, orders) for h in ORDER_HEADERS if orders]
        for header, cost in checks:
            allowed = int(self.limits.limit_of(header) * self.limits.headroom)
            if cost and self.used(header, now_ms) + cost > allowed:
                window = _window_ms(header)
                wait = max(wait, window - now_ms % window)
        if wait == 0:
            self.banned = False
        return wait
