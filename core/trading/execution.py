"""The contract between the risk guardian and whatever executes its orders.

An :class:`ExecutionClient` is a venue account seen through four operations (NautilusTrader's
execution client): submit approved order requests, cancel working orders, report the account,
and hand out its execution events since a sequence number. The paper client
(:class:`core.trading.paper.PaperClient`) implements it over the backtester's fill model; the
ccxt client (actor side) implements it over a real venue. The executor actor holds one client
and applies exactly the requests the guardian approved: it never sizes or derives an order.

A simulated client also needs the market (:class:`SimulatedVenue.advance`): it matches its
working orders against the bars it is given. A real venue has its own market and needs no
such call.

Events are numbered from 1 in the order the client produced them; ``events_since(n)`` returns
every event numbered above ``n``. The guardian builds its portfolio only from these events
(fills, funding, order updates, and the orders the venue created itself: stop-loss,
take-profit and liquidation exits), in this order.

:class:`VenueLink` is what the trading loop (:mod:`core.trading.trader`) talks to: one
*exchange* submits the requests decided at the last decision bar and then lets the venue run
up to a later bar, answering every event since the caller's cursor. In one process the link
calls a client directly (:class:`LocalLink`); across actors the guardian's link calls the
executor, one exchange per round trip.

A simulated venue's future does not depend on the trader until the trader submits again, so
an exchange may also ask for a *preview*: the events of the following bars if nothing more
were submitted. The trader walks the preview and needs the next exchange only at the next bar
where it submits orders; that exchange first *syncs* the venue over the bars walked (their
events are then committed, identical to the preview, which the trader checks). A SIM batch
thus costs one round trip per bar with orders, not one per bar with a signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol, runtime_checkable

from core.errors import EvotraderError
from core.trading.messages import (
    CashAdjustment,
    Fill,
    FundingPayment,
    MarketBatch,
    OrderRequest,
    OrderUpdate,
)

ExecutionEvent = OrderRequest | OrderUpdate | Fill | FundingPayment | CashAdjustment
"""What a client reports. An :class:`OrderRequest` in the stream is an order the venue created
itself (a stop exit, a liquidation, an external order adopted by reconciliation), announced
before its first update; a :class:`CashAdjustment` is cash reconciliation adopted."""


class EventsLostError(EvotraderError):
    """The events asked for are older than the client keeps: reconcile from the account."""


@dataclass(frozen=True, slots=True)
class EventPage:
    """Events numbered ``(since, last]`` in order.

    Attributes:
        events: The events.
        last: Number of the last event (the next call's ``since``).
    """

    events: tuple[ExecutionEvent, ...]
    last: int


def page_since(events: Sequence[tuple[int, ExecutionEvent]], last: int, since: int
               ) -> EventPage:
    """Every kept event numbered above ``since``, from a client's numbered event log.

    Args:
        events: ``(number, event)`` oldest first, the newest numbered ``last`` (a bounded
            deque: older events may have been dropped).
        last: Number of the last event produced.
        since: The caller's cursor.

    Raises:
        EventsLostError: ``since`` is older than the events kept.
    """
    if since >= last:
        return EventPage((), last)
    first = events[0][0] if events else last + 1
    if since + 1 < first:
        raise EventsLostError(f"events after {since} asked, but the oldest kept is {first}; "
                              "reconcile from the account report")
    newest = islice(reversed(events), last - since)  # O(new events)
    return EventPage(tuple(event for _, event in newest)[::-1], last)


@dataclass(frozen=True, slots=True)
class AccountReport:
    """The account as the venue sees it (for reconciliation).

    Attributes:
        ts: Open time of the last bar the venue processed (None before any).
        index: Session index of that bar (-1 before any).
        cash: Quote cash.
        positions: ``(symbol, tag, signed quantity)`` of every open position, sorted.
        working: Client order ids of the working orders, in arrival order.
        last_event: Number of the last event produced.
        halted: True when the venue account refuses new orders (kill switch).
    """

    ts: int | None
    index: int
    cash: float
    positions: tuple[tuple[str, str, float], ...]
    working: tuple[str, ...]
    last_event: int
    halted: bool = False


@runtime_checkable
class ExecutionClient(Protocol):
    """A venue account: submit, cancel, report, events."""

    def submit(self, requests: Sequence[OrderRequest]) -> list[OrderUpdate]:
        """Place approved requests; idempotent per client order id.

        Returns:
            One update per request: ACCEPTED, REJECTED (with the venue's reason), or the
            current status of an id the venue already knows (a retry never places twice).
        """
        ...

    def cancel(self, client_order_ids: Sequence[str] | None, ts: int, reason: str
               ) -> list[OrderUpdate]:
        """Cancel the given working orders (None: every cancellable one)."""
        ...

    def account(self) -> AccountReport:
        """Cash, positions and working orders as the venue has them."""
        ...

    def events_since(self, since: int) -> EventPage:
        """Every event numbered above ``since``.

        Raises:
            EventsLostError: ``since`` is older than the events kept.
        """
        ...


@runtime_checkable
class SimulatedVenue(ExecutionClient, Protocol):
    """A client that simulates the venue and must be shown the market."""

    def advance(self, batch: MarketBatch, to_index: int) -> None:
        """Process the batch's bars up to session index ``to_index`` (inclusive).

        Per bar: funding, fills at the open, stops, the close.
        """
        ...

    def preview(self, batch: MarketBatch, to_index: int) -> tuple[ExecutionEvent, ...]:
        """The events :meth:`advance` to ``to_index`` would produce, the account unchanged.

        What happens if nothing more is submitted.
        """
        ...

    def exchange(self, batch: MarketBatch, since: int, sync_to: int,
                 submit: Sequence[OrderRequest], advance_to: int, preview_to: int
                 ) -> Exchange:
        """One :meth:`VenueLink.exchange` on this venue, shown ``batch``."""
        ...


@dataclass(frozen=True, slots=True)
class Exchange:
    """The venue's answer to one :meth:`VenueLink.exchange`.

    Attributes:
        events: Committed events numbered ``(since, last]``: first those that happened
            between two exchanges (a kill switch's cancels), then those of the sync (which
            the trader already saw in the previous preview), then the rest (deferred cancels,
            acknowledgements, the advance's).
        last: Number of the last committed event.
        synced: How many of ``events`` the sync produced (after the unsolicited ones).
        preview: What would happen after ``advance_to`` up to ``preview_to`` if nothing more
            were submitted (not committed; empty when not asked or not supported).
        unsolicited: How many of ``events`` happened between the exchanges.
    """

    events: tuple[ExecutionEvent, ...]
    last: int
    synced: int = 0
    preview: tuple[ExecutionEvent, ...] = ()
    unsolicited: int = 0

    @property
    def synced_events(self) -> tuple[ExecutionEvent, ...]:
        """The events of the sync (they must equal the preview the trader walked)."""
        return self.events[self.unsolicited:self.unsolicited + self.synced]


class VenueLink(Protocol):
    """The trading loop's view of the venue (see the module doc).

    Attributes:
        previews: Whether the venue can preview (a simulated one can; a real one cannot).
    """

    previews: bool

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """One round trip, in this order.

        1. the venue runs up to session bar ``sync_to`` (the bars the trader walked on the
           last preview: their events are committed now, unchanged);
        2. ``submit`` is placed (decided at the close of ``sync_to``);
        3. the venue runs up to bar ``advance_to``;
        4. it previews the bars after it up to ``preview_to`` (if it can).

        ``last`` tells the link that this is the batch's last exchange (the guardian journals
        the step before sending it). Returns every committed event numbered above ``since``
        and the preview.
        """
        ...


def venue_exchange(client: SimulatedVenue, batch: MarketBatch, since: int, sync_to: int,
                   submit: Sequence[OrderRequest], advance_to: int, preview_to: int
                   ) -> Exchange:
    """:meth:`VenueLink.exchange` on a simulated client shown ``batch``."""
    return client.exchange(batch, since, sync_to, submit, advance_to, preview_to)


class LocalLink:
    """A :class:`VenueLink` to a simulated client in the same process (candidates, tests).

    Args:
        client: The simulated venue.
        previews: Ask for previews (False: one exchange per decision bar, as with a real
            venue).
    """

    def __init__(self, client: SimulatedVenue, previews: bool = True) -> None:
        self.client = client
        self.previews = previews
        self.batch: MarketBatch | None = None

    def begin(self, batch: MarketBatch) -> None:
        """The bars the next exchanges run through."""
        self.batch = batch

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """See :meth:`VenueLink.exchange`."""
        assert self.batch is not None, "begin(batch) first"
        return venue_exchange(self.client, self.batch, since, sync_to, submit, advance_to,
                              preview_to if self.previews else advance_to)
