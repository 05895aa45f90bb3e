from __future__ import annotations

import pytest

from core.trading.messages import client_order_id
from core.trading.venue_ids import (
    VENUE_ID_LENGTH,
    VENUE_ID_PATTERN,
    is_own_venue_id,
    synthetic_id,
    venue_client_order_id,
)


def test_venue_id_is_stable_per_session_and_differs_between_sessions() -> None:
    coid = client_order_id("momentum-1", "BTC/USDT", "core", 1_700_000_000_000)
    first = venue_client_order_id("session-a", coid)
    assert first == venue_client_order_id("session-a", coid)  # a restart sends the same id
    assert first != venue_client_order_id("session-b", coid)  # two sessions never collide
    assert first != venue_client_order_id("session-a", coid + "x")
    assert len(first) == VENUE_ID_LENGTH and VENUE_ID_PATTERN.match(first)
    assert is_own_venue_id(first)
    assert not is_own_venue_id("web_8d7f6a")  # an order placed by hand on the venue


def test_empty_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        venue_client_order_id("", "E1")
    with pytest.raises(ValueError):
        venue_client_order_id("s", "")


def test_synthetic_ids_are_pure_functions_of_the_venue_identifiers() -> None:
    a = synthetic_id("fill", "binance", "BTC/USDT", 42)
    assert a == synthetic_id("fill", "binance", "BTC/USDT", "42")
    assert a != synthetic_id("fill", "binance", "BTC/USDT", 43)
    assert a.startswith("XF") and VENUE_ID_PATTERN.match(a)
