"""A one-bar step's first exchange, made before the strategy's signals arrive (pure).

A paced step is one bar. Its first exchange with the venue asks only for that bar's events
(the fills at its open of the orders sent at the previous close, stops, funding): the loop
has nothing to submit yet and nothing to preview, so the request depends on the trader's
cursor and the bar, never on the signals. The guardian therefore sends it as soon as it has
the bar, while the slot is still computing, and hands the answer to the step through
:class:`PrefetchedLink`; only the exchange that submits waits for the signals.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import EvotraderError
from core.trading.execution import Exchange, VenueLink
from core.trading.messages import MarketBatch, OrderRequest
from core.trading.replay import ExchangeRequest


class PrefetchMismatchError(EvotraderError):
    """The step's first exchange differs from the one made ahead of it."""


def first_exchange(cursor: int, batch: MarketBatch) -> ExchangeRequest | None:
    """The first exchange :meth:`Trader.run_batch` makes on ``batch``, if signals cannot change it.

    For a one-bar batch the loop syncs to the bar before, submits nothing, runs to the bar
    and previews nothing (see ``_Batch.run``). A longer batch's first exchange reaches its
    first decision bar, which the signals choose: None.

    Args:
        cursor: The trader's cursor at the step's start.
        batch: The step's bars.
    """
    if int(batch.n_bars) != 1:
        return None
    start = int(batch.start)
    return ExchangeRequest(cursor, start - 1, (), start, start)


class PrefetchedLink:
    """A :class:`VenueLink` whose first exchange was already answered.

    Args:
        inner: The link the prefetch went through (it numbered that exchange); later
            exchanges go there.
        request: The prefetched request.
        reply: Its answer.
    """

    def __init__(self, inner: VenueLink, request: ExchangeRequest, reply: Exchange) -> None:
        self._inner, self._request, self._reply = inner, request, reply
        self._used = False
        self.previews = inner.previews

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """The prefetched answer for the first exchange; the inner link's for the others.

        Raises:
            PrefetchMismatchError: The first exchange is not the prefetched one (its answer
                would be another request's: the venue has already run it).
        """
        if self._used:
            return self._inner.exchange(since, sync_to, submit, advance_to, preview_to,
                                        last=last)
        asked = ExchangeRequest(since, sync_to, tuple(submit), advance_to, preview_to)
        if asked != self._request:
            raise PrefetchMismatchError(
                f"the step's first exchange {asked} is not the one sent ahead of the signals "
                f"{self._request}")
        self._used = True
        return self._reply
