from __future__ import annotations

import pytest

from core.trading.rate_limits import RateLimits, VenueRateLimiter

MINUTE = 60_000


def test_the_venue_headers_decide_when_the_next_window_is_needed() -> None:
    limiter = VenueRateLimiter(RateLimits(weight_per_minute=100, headroom=0.9))
    now = 5 * MINUTE + 20_000
    assert limiter.delay_ms(now, weight=10) == 0
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "85"}, now)
    assert limiter.delay_ms(now, weight=5) == 0  # 90 fits under 90 % of 100
    assert limiter.delay_ms(now, weight=6) == 40_000  # waits for the next minute
    assert limiter.delay_ms(6 * MINUTE, weight=6) == 0  # a new window starts empty
    assert limiter.used("x-mbx-used-weight-1m", 6 * MINUTE) == 0


def test_order_counts_are_checked_only_for_requests_that_place_orders() -> None:
    limiter = VenueRateLimiter(RateLimits(orders_per_10s=10, headroom=1.0))
    now = 1_000_003_000
    limiter.observe({"x-mbx-order-count-10s": "10", "x-mbx-used-weight-1m": "1"}, now)
    assert limiter.delay_ms(now, weight=1) == 0  # a query places nothing
    assert limiter.delay_ms(now, weight=1, orders=1) == 7_000
    limiter.observe({"x-mbx-order-count-10s": "garbage"}, now)  # unreadable: ignored
    assert limiter.used("x-mbx-order-count-10s", now) == 10


def test_429_blocks_for_retry_after_and_418_is_a_ban_until_it_ends() -> None:
    limiter = VenueRateLimiter()
    limiter.refused(429, 2.5, 10_000)
    assert limiter.delay_ms(10_000) == 2_500
    limiter.refused(418, 120.0, 11_000)
    assert limiter.banned and limiter.delay_ms(11_000) == 120_000
    assert limiter.delay_ms(131_000) == 0 and not limiter.banned
    limiter.refused(429, None, 200_000)  # no Retry-After: a minute
    assert limiter.delay_ms(200_000) == 60_000


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimits(headroom=0.0)
    with pytest.raises(ValueError):
        RateLimits(weight_per_minute=0)
