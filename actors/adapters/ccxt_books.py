"""A venue's public order book through ccxt, for PAPER fills that walk it.

:class:`VenueBooks` reads ``fetch_order_book`` (Binance: ``GET /api/v3/depth``) and returns
the project's :class:`~core.trading.book_walk.BookSnapshot`. Temporary errors are retried a
few times with a short backoff; what still fails is the project's error type (the caller
falls back to the fill model and says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from actors.adapters.ccxt_errors import ccxt_errors, make_exchange
from core.errors import TemporaryExchangeError
from core.trading.book_walk import BookSnapshot


class VenueBooks:
    """Order books of one venue (public data: no key).

    Args:
        exchange_id: ccxt exchange id.
        api_url: Override of ccxt's API host (the local emulator), or None.
        timeout_ms: HTTP timeout per request.
        depth: Levels read per side.
        attempts: Tries per book on temporary errors.
        exchange: A ccxt exchange (tests); None: built from the arguments.
        sleep: Sleep function.
    """

    def __init__(self, exchange_id: str, api_url: str | None = None, timeout_ms: int = 10_000,
                 depth: int = 100, attempts: int = 3, exchange: Any = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._ex = exchange if exchange is not None else make_exchange(
            exchange_id, api_url=api_url, timeout_ms=timeout_ms, rate_limit=False)
        self.depth, self.attempts, self._sleep = int(depth), max(1, int(attempts)), sleep

    def snapshot(self, symbol: str) -> BookSnapshot:
        """The venue's book of ``symbol`` now.

        Raises:
            ExchangeError: The venue did not answer (after the retries) or refused.
        """
        for attempt in range(self.attempts):
            try:
                with ccxt_errors(f"fetch_order_book {symbol}", exchange=self._ex):
                    book = self._ex.fetch_order_book(symbol, self.depth)
                break
            except TemporaryExchangeError:
                if attempt + 1 >= self.attempts:
                    raise
                self._sleep(0.1 * 2 ** attempt)
        levels = [tuple((float(p), float(q)) for p, q, *_ in book.get(side) or [])
                  for side in ("bids", "asks")]
        return BookSnapshot(symbol, int(book.get("timestamp") or 0), levels[0], levels[1])
