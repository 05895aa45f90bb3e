"""The route table: which handler answers ``(method, path)``, and whether it must be signed.

A handler gets a :class:`Call` (the request, its parameters, the venue, the times it sees
and what fault rules do to it) and returns the JSON payload — or a
:class:`~actors.emulator.http.Reply` to answer something else (tests replace handlers this
way, e.g. to serve corrupt candles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actors.emulator.http import Request
from actors.emulator.params import Params

if TYPE_CHECKING:
    from actors.emulator.venue import OrderEffects, Venue


@dataclass(frozen=True)
class Call:
    """One request as a handler sees it.

    Attributes:
        request: The HTTP request.
        params: Its parameters.
        venue: The venue.
        venue_ms: Venue time when the request arrived (after the venue caught up).
        server_ms: What the server tells as its time (venue time plus injected skew).
        effects: What fault rules do to an order this request places.
    """

    request: Request
    params: Params
    venue: Venue
    venue_ms: int
    server_ms: int
    effects: OrderEffects


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Route:
    """A handler and its security type.

    Attributes:
        handler: Answers the call.
        signed: SIGNED (key, timestamp and signature) rather than public.
    """

    handler: Handler
    signed: bool = False


class Routes:
    """``(METHOD, path)`` -> :class:`Route`."""

    def __init__(self) -> None:
        self._table: dict[tuple[str, str], Route] = {}

    def add(self, method: str, path: str, handler: Handler, signed: bool = False) -> None:
        """Register (or replace) a route."""
        self._table[(method.upper(), path)] = Route(handler, signed)

    def replace_handler(self, method: str, path: str, handler: Handler) -> None:
        """Swap the handler of a route, keeping its security type (public if new)."""
        old = self._table.get((method.upper(), path))
        self.add(method, path, handler, old.signed if old is not None else False)

    def get(self, method: str, path: str) -> Route | None:
        """The route, None if unknown."""
        return self._table.get((method.upper(), path))

    def known_path(self, path: str) -> bool:
        """Whether any method is routed at ``path``."""
        return any(p == path for _, p in self._table)
