"""The order state machine: every allowed transition, every forbidden one, the record."""

from __future__ import annotations

import itertools

import pytest

from core.errors import EvotraderError
from core.trading.errors import OrderStateError
from core.trading.messages import OrderRequest, OrderStatus, OrderUpdate, Side
from core.trading.orders import TRANSITIONS, Order, check_transition

S = OrderStatus
ALLOWED = {
    (S.INITIALIZED, S.ACCEPTED), (S.INITIALIZED, S.DENIED), (S.INITIALIZED, S.REJECTED),
    (S.ACCEPTED, S.PARTIALLY_FILLED), (S.ACCEPTED, S.FILLED), (S.ACCEPTED, S.CANCELED),
    (S.ACCEPTED, S.REJECTED), (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELED), (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
}


def request(oid: str = "E1") -> OrderRequest:
    return OrderRequest(oid, "strat", "BTC/USDT", "core", 1000, Side.BUY, 2.0, 100.0, 1.0,
                        200.0, False)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_exactly_the_documented_transitions_are_allowed(current: S, new: S) -> None:
    if (current, new) in ALLOWED:
        check_transition("E1", current, new)
    else:
        with pytest.raises(OrderStateError) as info:
            check_transition("E1", current, new)
        assert f"{current.value} -> {new.value}" in str(info.value)
        assert info.value.client_order_id == "E1"
        assert isinstance(info.value, EvotraderError)


def test_terminal_statuses_have_no_way_out() -> None:
    assert set(TRANSITIONS) == {S.INITIALIZED, S.ACCEPTED, S.PARTIALLY_FILLED}


def test_order_record_accumulates_history_and_stays_immutable() -> None:
    fresh = Order(request())
    assert fresh.status is S.INITIALIZED and not fresh.is_working and not fresh.is_terminal
    assert fresh.last_update() == OrderUpdate("E1", 1000, S.INITIALIZED, 0.0)
    accepted, update = fresh.transition(S.ACCEPTED, 1000)
    assert update == OrderUpdate("E1", 1000, S.ACCEPTED, 0.0, "")
    assert fresh.status is S.INITIALIZED  # the old record is untouched
    assert accepted.is_working
    partial, _ = accepted.transition(S.PARTIALLY_FILLED, 2000, filled_quantity=0.5)
    done, last = partial.transition(S.CANCELED, 2000, reason="insufficient_cash")
    assert done.is_terminal and not done.is_working
    assert done.filled_quantity == 0.5  # a cancel keeps the cumulative fill
    assert [u.status for u in done.history] == [S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCELED]
    assert last.reason == "insufficient_cash" and done.last_update() == last
    with pytest.raises(OrderStateError, match="CANCELED -> FILLED"):
        done.transition(S.FILLED, 3000, filled_quantity=2.0)


def test_denied_order_cannot_be_accepted_later() -> None:
    denied, update = Order(request()).transition(S.DENIED, 1000, reason="max_trade_size")
    assert update.reason == "max_trade_size"
    with pytest.raises(OrderStateError, match="DENIED -> ACCEPTED"):
        denied.transition(S.ACCEPTED, 1000)
