"""The ccxt execution client's values: its policy, its durable state, its reconciliation view."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.trading.execution import ExecutionEvent
from core.trading.rate_limits import RateLimits
from core.trading.venue_orders import VenueOrdersState, VenueTrade
from core.trading.venue_protection import ProtectionsState

OUTCOME_UNKNOWN = "outcome_unknown"
"""Reason on the update answered for a create whose outcome is not known yet."""


@dataclass(frozen=True, slots=True)
class VenueClientPolicy:
    """How the client treats the venue.

    Attributes:
        attempts: Calls allowed per read or cancel (temporary errors are retried), and sends
            allowed per create when the venue proved it did not process it.
        base_delay_s: Backoff after the first failure.
        max_delay_s: Cap of the backoff (``Retry-After`` may exceed it).
        jitter: Random extra fraction of each backoff (seeded by the session).
        not_found_confirmations: Venue "not found" answers before an UNKNOWN create is
            declared not placed.
        recv_window_ms: ``recvWindow`` sent with signed requests; also the time after which a
            create can no longer reach the venue.
        resolve_attempts: Lookups of an UNKNOWN create made at once (more at each poll).
        resolve_spacing_s: Time between those lookups.
        limits: The account's request limits.
        event_capacity: Events kept for :meth:`CcxtExecutionClient.events_since`.
        trades_page: Trades asked for per request (Binance's maximum is 1000).
    """

    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 10.0
    jitter: float = 0.25
    not_found_confirmations: int = 3
    recv_window_ms: int = 5_000
    resolve_attempts: int = 2
    resolve_spacing_s: float = 0.2
    limits: RateLimits = field(default_factory=RateLimits)
    event_capacity: int = 20_000
    trades_page: int = 1000


@dataclass(frozen=True, slots=True)
class VenueClientState:
    """The client's durable state (the executor snapshots it).

    Attributes:
        orders: The order book.
        last_trade_ids: Per symbol, the newest trade id read (``fetch_my_trades`` goes on
            after it).
        last_event: Number of the last event produced.
        events: ``(number, event)`` of the events kept with the state (those not yet
            consumed by the caller, see :meth:`CcxtExecutionClient.state`).
        protections: The positions and their protective orders on the venue.
        external_open: ``(symbol, venue client id)`` of open orders reconciliation adopted
            as external (tolerated, never touched).
    """

    orders: VenueOrdersState
    last_trade_ids: tuple[tuple[str, int], ...]
    last_event: int
    events: tuple[tuple[int, ExecutionEvent], ...] = ()
    protections: ProtectionsState | None = None
    external_open: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class VenueView:
    """The venue's side of a reconciliation.

    Attributes:
        balances: Total (free + locked) per asset.
        open_orders: ``(symbol, client id)`` of every order open on the venue.
        working: ``(symbol, venue client id)`` of our orders working in our book.
        unseen: Trades of orders this session did not send (and not adopted).
        external_open: Open orders adopted as external that the venue still lists.
    """

    balances: dict[str, float]
    open_orders: tuple[tuple[str, str], ...]
    working: tuple[tuple[str, str], ...]
    unseen: tuple[VenueTrade, ...]
    external_open: tuple[tuple[str, str], ...] = ()
