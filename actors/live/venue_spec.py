"""Where a live feed reads its bars: a plain value, cheap to import (no ccxt)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VenueFeedSpec:
    """Where a live feed reads its bars (sent to the feed actor).

    Attributes:
        exchange_id: ccxt exchange id.
        api_url: Override of ccxt's API host (the local emulator), or None.
        timeframe: Bar timeframe, e.g. ``"1m"``.
        timeout_ms: HTTP timeout per request.
        bar_timeout_s: How long after a bar's close the feed waits for the venue to list it.
        poll_s: Time between two reads while waiting.
    """

    exchange_id: str
    api_url: str | None
    timeframe: str
    timeout_ms: int = 10_000
    bar_timeout_s: float = 30.0
    poll_s: float = 0.2


@dataclass(frozen=True, slots=True)
class VenueBookSpec:
    """Where a PAPER executor reads order books to fill market orders by walking them.

    Attributes:
        exchange_id: ccxt exchange id.
        api_url: Override of ccxt's API host (the local emulator), or None.
        timeout_ms: HTTP timeout per request.
        depth: Levels read per side.
    """

    exchange_id: str
    api_url: str | None
    timeout_ms: int = 10_000
    depth: int = 100


@dataclass(frozen=True, slots=True)
class VenueExecutionSpec:
    """Where and how the executor trades on a real venue (TESTNET, LIVE).

    Keys are not here: the executor reads them from its own environment.

    Attributes:
        exchange_id: ccxt exchange id.
        api_url: Override of ccxt's API host (the local emulator), or None.
        sandbox: Use the venue's testnet (``set_sandbox_mode``) when no ``api_url`` is given.
        timeout_ms: HTTP timeout per request.
        speed: The venue clock's rate against the wall clock (1 for a real venue).
        reconcile_s: Least time between two reconciliations of the venue with the book.
        dust_quote: Largest quote difference reconciliation tolerates.
        max_order_lag_bars: Bars the venue may be past an order's fill bar when it is sent.
        reconcile_policy: ``"halt"`` (any difference stops new orders) or ``"adopt"`` (the
            venue's state is adopted, tagged ``external``; see :mod:`core.trading.venue_adopt`).
    """

    exchange_id: str
    api_url: str | None
    sandbox: bool
    timeout_ms: int = 10_000
    speed: float = 1.0
    reconcile_s: float = 60.0
    dust_quote: float = 0.01
    max_order_lag_bars: int = 0
    reconcile_policy: str = "halt"
