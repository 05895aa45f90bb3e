"""One call to a venue through ccxt, under its rate limits and the retry rules.

:class:`VenueCaller` is what the ccxt execution client sends every request through:

- it waits as long as the venue's own counters say (a
  :class:`~core.trading.rate_limits.VenueRateLimiter` fed by every answer's headers) and
  sends nothing during a 429 or a 418 ban;
- a request the venue refused *unprocessed* is sent again: 429/418 (after ``Retry-After``)
  and -1021 (after a clock resync) — safe even for a create;
- other temporary errors (timeouts, 5xx, resets) are retried with capped exponential backoff
  and seeded jitter only when the caller allows it (reads and cancels; never a create, whose
  outcome is then unknown);
- ccxt's exceptions become the project's at the boundary (:mod:`actors.adapters.ccxt_errors`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.adapters.ccxt_errors import ccxt_errors
from core.errors import RateLimitError, TemporaryExchangeError, VenueClockError
from core.trading.rate_limits import VenueRateLimiter

if TYPE_CHECKING:
    from actors.adapters.ccxt_execution import VenueClientPolicy


class VenueCaller:
    """Sends one venue request at a time under the rules of the module doc.

    Args:
        exchange: The ccxt exchange.
        policy: Attempts, backoff, jitter and the account's limits.
        clock_ms: The venue's time in ms.
        sleep: Sleep function.
        rng: Source of the jitter (seeded by the session).
    """

    def __init__(self, exchange: Any, policy: VenueClientPolicy, clock_ms: Callable[[], int],
                 sleep: Callable[[float], None], rng: random.Random) -> None:
        self._ex, self.policy = exchange, policy
        self._now, self._sleep, self._rng = clock_ms, sleep, rng
        self.limiter = VenueRateLimiter(policy.limits)

    def call(self, context: str, fn: Callable[[], Any], *, weight: int = 1, orders: int = 0,
              retry: bool = True) -> Any:
        """Run ``fn`` (a ccxt call) as the module doc says; its answer.

        Args:
            context: What is being done (prefixes error messages).
            fn: The call.
            weight: Its request weight.
            orders: Orders it places.
            retry: Retry temporary errors other than the venue's unprocessed refusals.

        Raises:
            ExchangeError: The project's error for what the venue (or the network) answered.
        """
        failure = 0
        while True:
            wait_ms = self.limiter.delay_ms(self._now(), weight, orders)
            if wait_ms:
                self._sleep(wait_ms / 1000.0)
            try:
                with ccxt_errors(context, exchange=self._ex):
                    result = fn()
                self._observe()
                return result
            except RateLimitError as error:  # refused unprocessed: a resend is safe
                self._observe()
                status = getattr(self._ex, "last_http_status", None) or 429
                self.limiter.refused(status, getattr(error, "retry_after_s", None),
                                      self._now())
                failure += 1
                if failure >= self.policy.attempts:
                    raise
            except VenueClockError:  # refused unprocessed: resync, then a resend is safe
                failure += 1
                if failure >= self.policy.attempts:
                    raise
                with ccxt_errors("load_time_difference", exchange=self._ex):
                    self._ex.load_time_difference()
            except TemporaryExchangeError:
                self._observe()
                failure += 1
                if not retry or failure >= self.policy.attempts:
                    raise
                delay = min(self.policy.max_delay_s,
                            self.policy.base_delay_s * 2.0 ** (failure - 1))
                self._sleep(delay * (1.0 + self.policy.jitter * self._rng.random()))

    def _observe(self) -> None:
        headers = getattr(self._ex, "last_response_headers", None)
        if headers:
            self.limiter.observe(headers, self._now())
