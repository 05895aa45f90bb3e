"""Recording and replaying a trader's exchanges with its venue (pure).

A step of the trading loop is a pure function of the book it starts from, the bars, the
signals and the venue's replies. :class:`RecordingLink` notes every exchange (what was asked,
what came back) so that the step can be journaled; :class:`ReplayLink` answers the same
exchanges from such a record, so a restarted guardian rebuilds its book and risk state by
running the step again, without the venue.

Previews are not recorded: the events of a preview that the trader walked are exactly the
events the next exchange committed in its sync, so the replay serves, as the preview of
exchange ``k``, the synced events of exchange ``k + 1``. The trader reads nothing of a
preview beyond them. Only when the journal is written before the step's last exchange has
been answered is the preview of the last answered exchange kept (``tail_preview``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.errors import EvotraderError
from core.trading.execution import Exchange, ExecutionEvent, VenueLink
from core.trading.messages import OrderRequest


class ReplayError(EvotraderError):
    """A replayed step asked the venue something else than the recorded step did."""


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """The arguments of one :meth:`VenueLink.exchange` (see there)."""

    since: int
    sync_to: int
    submit: tuple[OrderRequest, ...]
    advance_to: int
    preview_to: int


def without_preview(reply: Exchange) -> Exchange:
    """The reply as journaled (the preview is rebuilt on replay)."""
    return Exchange(reply.events, reply.last, reply.synced, (), reply.unsolicited)


@dataclass
class RecordingLink:
    """A :class:`VenueLink` that forwards to ``inner`` and notes every exchange.

    Attributes:
        inner: The real link.
        requests: Exchanges asked, in order.
        replies: Their replies (without previews), in order.
        last_preview: The preview of the last reply.
        before_send: Called with the request just before it is sent, and whether it is the
            step's last exchange (the guardian writes its journal record before that one).
    """

    inner: VenueLink
    requests: list[ExchangeRequest] = field(default_factory=list)
    replies: list[Exchange] = field(default_factory=list)
    last_preview: tuple[ExecutionEvent, ...] = ()
    before_send: Callable[[ExchangeRequest, bool], None] | None = None

    @property
    def previews(self) -> bool:
        """Whether the inner link previews."""
        return self.inner.previews

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """Forward, noting the request and the reply."""
        request = ExchangeRequest(since, sync_to, tuple(submit), advance_to, preview_to)
        self.requests.append(request)
        if self.before_send is not None:
            self.before_send(request, last)
        reply = self.inner.exchange(since, sync_to, submit, advance_to, preview_to, last=last)
        self.replies.append(without_preview(reply))
        self.last_preview = reply.preview
        return reply


class ReplayLink:
    """A :class:`VenueLink` answering from a recorded step.

    Args:
        requests: The recorded requests.
        replies: Their recorded replies (may lack the last one: see ``live``).
        tail_preview: The preview of the last recorded reply, when the step's last exchange
            has no recorded reply.
        live: Answers exchanges past the recorded replies (the journal was written before
            the step's last exchange was sent; it is sent again, and the venue answers it
            idempotently). None: such an exchange is an error.
        previews: Whether the recorded step ran with previews.
    """

    def __init__(self, requests: Sequence[ExchangeRequest], replies: Sequence[Exchange],
                 tail_preview: Sequence[ExecutionEvent] = (), live: VenueLink | None = None,
                 previews: bool = True) -> None:
        self._requests, self._replies = list(requests), list(replies)
        self._tail_preview = tuple(tail_preview)
        self._live = live
        self.previews = previews
        self._next = 0
        self.live_replies: list[Exchange] = []

    @property
    def consumed(self) -> int:
        """Exchanges answered so far."""
        return self._next

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """The recorded reply (with its preview rebuilt), after checking the request."""
        k = self._next
        asked = ExchangeRequest(since, sync_to, tuple(submit), advance_to, preview_to)
        if k >= len(self._requests) or self._requests[k] != asked:
            recorded = self._requests[k] if k < len(self._requests) else None
            raise ReplayError(f"replayed exchange {k} asked {asked}, the record has "
                              f"{recorded}")
        self._next += 1
        if k >= len(self._replies):
            if self._live is None:
                raise ReplayError(f"exchange {k} has no recorded reply and no venue to ask")
            reply = self._live.exchange(since, sync_to, submit, advance_to, preview_to,
                                        last=last)
            self.live_replies.append(without_preview(reply))
            return reply
        reply = self._replies[k]
        preview: tuple[ExecutionEvent, ...] = ()
        if preview_to > advance_to:
            if k + 1 < len(self._replies):
                preview = self._replies[k + 1].synced_events
            else:
                preview = self._tail_preview
        return Exchange(reply.events, reply.last, reply.synced, preview, reply.unsolicited)

    def recorded_reply(self, k: int) -> Exchange:
        """The recorded reply of exchange ``k`` (without preview)."""
        return self._replies[k]

    def finished(self) -> bool:
        """True once every recorded request was asked again."""
        return self._next == len(self._requests)
