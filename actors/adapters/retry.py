"""Retry temporary exchange failures with deterministic exponential backoff.

Only :class:`~core.errors.TemporaryExchangeError` (network, 5xx, maintenance, rate limits) is
retried. :class:`~core.errors.PermanentExchangeError` and everything else propagate at once.
Delays have no jitter, so a test (or a replay) sees exactly the same schedule:

- temporary error, failure ``k`` (1-based): ``min(max_delay_s, base_delay_s * 2**(k-1))``;
- rate limit: the same times ``rate_limit_factor``, capped at ``max_delay_s``, but never
  shorter than the venue's ``Retry-After`` (the error's ``retry_after_s`` attribute, set by
  :mod:`actors.adapters.ccxt_errors`) — a venue that asked us to wait is obeyed even past
  ``max_delay_s``, because ignoring it gets the IP banned (Binance answers 418).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import RateLimitError, TemporaryExchangeError

T = TypeVar("T")
OnRetry = Callable[[int, TemporaryExchangeError, float], None]


def backoff_delay(
    failure: int,
    error: TemporaryExchangeError,
    *,
    base_delay_s: float,
    max_delay_s: float,
    rate_limit_factor: float = 4.0,
) -> float:
    """Seconds to wait after the ``failure``-th consecutive failure (1-based); see module doc."""
    delay = base_delay_s * 2.0 ** (failure - 1)
    if isinstance(error, RateLimitError):
        delay *= rate_limit_factor
    delay = min(max_delay_s, delay)
    retry_after = getattr(error, "retry_after_s", None)
    if isinstance(error, RateLimitError) and isinstance(retry_after, int | float):
        delay = max(delay, float(retry_after))
    return delay


def retry_call(
    fn: Callable[[], T],
    *,
    attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: OnRetry | None = None,
    rate_limit_factor: float = 4.0,
) -> T:
    """Call ``fn`` until it succeeds, retrying temporary exchange errors.

    Args:
        fn: The call; it must raise the project's error types (wrap ccxt with
            :func:`actors.adapters.ccxt_errors.ccxt_errors`).
        attempts: Total number of calls allowed (1 = no retry).
        base_delay_s: Delay after the first failure.
        max_delay_s: Cap of the computed delay.
        sleep: Sleep function (injected in tests).
        on_retry: Called as ``on_retry(failure, error, delay_s)`` before each sleep.
        rate_limit_factor: Extra multiplier for :class:`~core.errors.RateLimitError`.

    Returns:
        What ``fn`` returns.

    Raises:
        TemporaryExchangeError: The last error, once ``attempts`` calls have failed.
        Exception: Anything else ``fn`` raises, at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    failure = 0
    while True:
        try:
            return fn()
        except TemporaryExchangeError as error:
            failure += 1
            if failure >= attempts:
                error.add_note(f"gave up after {attempts} attempt(s)")
                raise
            delay = backoff_delay(
                failure, error, base_delay_s=base_delay_s, max_delay_s=max_delay_s,
                rate_limit_factor=rate_limit_factor,
            )
            if on_retry is not None:
                on_retry(failure, error, delay)
            sleep(delay)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry settings bundled for components that make many calls.

    Attributes:
        attempts: Total calls allowed per operation (1 = no retry).
        base_delay_s: Delay after the first failure.
        max_delay_s: Cap of the computed delay (``Retry-After`` may exceed it).
        rate_limit_factor: Extra multiplier for rate-limit errors.
    """

    attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    rate_limit_factor: float = 4.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError(f"invalid retry policy {self}")

    def call(
        self,
        fn: Callable[[], T],
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: OnRetry | None = None,
    ) -> T:
        """Run ``fn`` under this policy (see :func:`retry_call`)."""
        return retry_call(
            fn, attempts=self.attempts, base_delay_s=self.base_delay_s,
            max_delay_s=self.max_delay_s, sleep=sleep, on_retry=on_retry,
            rate_limit_factor=self.rate_limit_factor,
        )
