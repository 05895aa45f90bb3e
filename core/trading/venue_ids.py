"""Identifiers an order carries on a real venue.

The project's client order id (:func:`core.trading.messages.client_order_id`) is a pure
function of (strategy, symbol, tag, bar, kind). Two sessions trading one account could derive
the same id, so the id sent to the venue is salted with the session: stable across restarts of
that session (the salt is the session id, which a restart keeps), different between sessions,
and within Binance's rule for ``newClientOrderId`` (``^[a-zA-Z0-9-_]{1,36}$``).

Fills and orders that reconciliation has to synthesise (a trade we never saw, an order found on
the venue) get ids that are pure functions of the venue's own identifiers, so a restart that
synthesises them again produces the same ids and no duplicate.
"""

from __future__ import annotations

import hashlib
import re

VENUE_ID_PREFIX = "et"
"""Every venue client id this project sends starts with it (and only those)."""
VENUE_ID_LENGTH = 32
VENUE_ID_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
"""Binance's rule for a client order id."""


def venue_client_order_id(session_salt: str, client_order_id: str) -> str:
    """The id sent to the venue for ``client_order_id`` in the session salted ``session_salt``.

    Args:
        session_salt: The session's id (stable across its restarts).
        client_order_id: The project's id of the order.

    Returns:
        ``"et"`` + 30 hex characters (32 in all).

    Raises:
        ValueError: An empty salt or id.
    """
    if not session_salt or not client_order_id:
        raise ValueError("a venue client order id needs a session salt and a client order id")
    digest = hashlib.blake2b(f"{session_salt}|{client_order_id}".encode(), digest_size=15)
    return VENUE_ID_PREFIX + digest.hexdigest()


def is_own_venue_id(venue_id: str) -> bool:
    """Whether ``venue_id`` has the shape of an id this project sends."""
    return (len(venue_id) == VENUE_ID_LENGTH and venue_id.startswith(VENUE_ID_PREFIX)
            and all(c in "0123456789abcdef" for c in venue_id[len(VENUE_ID_PREFIX):]))


def synthetic_id(kind: str, venue: str, *parts: str | int) -> str:
    """A deterministic id for something reconciliation creates (``kind``: ``"fill"``, ...).

    Args:
        kind: What is named.
        venue: Venue id.
        parts: The venue's identifiers of the thing (symbol, trade id, order id, ...).
    """
    key = "|".join((kind, venue, *(str(p) for p in parts)))
    return f"X{kind[0].upper()}" + hashlib.blake2b(key.encode(), digest_size=11).hexdigest()
