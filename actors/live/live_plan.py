"""The window and timeline of a session on live market data (PAPER; TESTNET and LIVE next).

A live session's timeline is the venue's bar grid: it starts with the bar forming on the
venue when the session starts (its first step is that bar's close) and ends after
``[session] duration`` (or at ``until``). The window is fixed once, at the first start, in the
recorded configuration (``session.start`` / ``until`` set, ``duration`` cleared, ``speed``
explicit), so a ``resume`` plans exactly the same timeline: the steps whose close has passed
meanwhile are read from the venue's history at once, then the session waits for the bars to
close again.

``speed`` is the venue's clock rate against the wall clock: 1 against a real venue, and the
emulator's ``--speed`` against a paced emulator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from actors.live.venue_spec import VenueBookSpec, VenueExecutionSpec, VenueFeedSpec
from configs.app import AppConfig
from configs.loader import LoadedConfig, with_overrides
from configs.session import parse_duration_ms
from core.data.timeframes import timeframe_to_ms
from core.data.times import parse_time_ms
from core.errors import DataError, ExchangeError, UsageError

LIVE_MODES = ("paper", "testnet", "live")
DEFAULT_LIVE_DURATION = "90d"


def venue_feed_spec(config: AppConfig) -> VenueFeedSpec:
    """Where the feeds of a live session read their bars."""
    exchange = config.exchange
    return VenueFeedSpec(exchange_id=exchange.id, api_url=exchange.api_url,
                         timeframe=config.data.timeframe, timeout_ms=exchange.timeout_ms,
                         bar_timeout_s=config.session.bar_timeout_s)


def venue_execution_spec(config: AppConfig) -> VenueExecutionSpec | None:
    """Where the executor trades: the venue in TESTNET and LIVE, None (paper) otherwise."""
    if config.app.mode not in ("testnet", "live"):
        return None
    exchange = config.exchange
    return VenueExecutionSpec(exchange_id=exchange.id, api_url=exchange.api_url,
                              sandbox=config.app.mode == "testnet",
                              timeout_ms=exchange.timeout_ms,
                              speed=config.session.speed or 1.0,
                              reconcile_s=exchange.reconcile_s,
                              dust_quote=exchange.reconcile_dust_quote,
                              reconcile_policy=exchange.reconcile_policy,
                              max_order_lag_bars=exchange.max_order_lag_bars)


def paper_book_spec(config: AppConfig) -> VenueBookSpec | None:
    """Where a PAPER executor reads books to fill by walking them (None: the fill model)."""
    exchange = config.exchange
    if config.app.mode != "paper" or exchange.paper_fills != "order_book":
        return None
    return VenueBookSpec(exchange.id, exchange.api_url, exchange.timeout_ms,
                         exchange.paper_book_depth)


def venue_now_ms(config: AppConfig) -> int:
    """The venue's clock, read once.

    Raises:
        UsageError: The venue cannot be reached (exit 2: check ``[exchange]`` or
            ``--exchange-url``).
    """
    spec = venue_feed_spec(config)
    from actors.live.venue_bars import VenueBars  # ccxt (~0.35 s): live sessions only

    bars = VenueBars(spec, config.data.symbols[0], timeframe_to_ms(config.data.timeframe))
    try:
        return bars.venue_now_ms()
    except ExchangeError as exc:
        where = spec.api_url or f"ccxt's {spec.exchange_id} servers"
        raise UsageError(f"cannot read the venue's clock at {where}: {exc}; check [exchange] "
                         "id / api_url (or --exchange-url)") from exc


def fix_live_window(loaded: LoadedConfig) -> LoadedConfig:
    """``loaded`` with the live window fixed (see the module doc); unchanged if it is.

    Raises:
        UsageError: Bad times, an empty window, or an unreachable venue.
    """
    config = loaded.config
    session = config.session
    if session.start is not None and session.until is not None and session.speed is not None:
        return loaded
    tf = timeframe_to_ms(config.data.timeframe)
    try:
        start = parse_time_ms(session.start) if session.start else None
        until = parse_time_ms(session.until) if session.until else None
        duration = parse_duration_ms(session.duration or DEFAULT_LIVE_DURATION)
    except (ValueError, DataError) as exc:
        raise UsageError(str(exc)) from exc
    if start is None:
        now = venue_now_ms(config)
        start = now - now % tf
    start -= start % tf
    until = until if until is not None else start + duration
    if until <= start:
        raise UsageError(f"the live session's window is empty ({start} .. {until} ms)")
    overrides: dict[str, Any] = {"session": {"start": str(start), "until": str(until),
                                             "duration": None,
                                             "speed": session.speed or 1.0}}
    return with_overrides(loaded, overrides, origin="the live session's window")


def live_timeline(config: AppConfig) -> np.ndarray:
    """The bar grid of a fixed live window."""
    tf = timeframe_to_ms(config.data.timeframe)
    assert config.session.start is not None and config.session.until is not None
    start, until = parse_time_ms(config.session.start), parse_time_ms(config.session.until)
    return np.arange(start, until, tf, dtype=np.int64)
