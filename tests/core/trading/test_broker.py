"""PaperBroker: sizing at the decision close, fills at the next open, idempotency, state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from core.errors import ConfigError
from core.trading.broker import PaperBroker
from core.trading.errors import OrderStateError
from core.trading.messages import OrderStatus, Side, Signal, client_order_id

BTC, ETH = "BTC/USDT", "ETH/USDT"
COSTS = {"taker_fee_bps": 10.0, "maker_fee_bps": 2.0, "half_spread_bps": 5.0}


def config(**overrides: object) -> BacktestConfig:
    base: dict[str, object] = {"costs": COSTS, "sizing": {"fraction": 0.5},
                               "direction": "long_short"}
    base.update(overrides)
    return BacktestConfig(**base)


def mark(broker: PaperBroker, ts: int, index: int, closes: list[float]) -> None:
    broker.mark(ts, index, closes, [1e9] * len(closes), closes, closes)


def test_sizes_at_the_close_and_fills_at_the_next_open_golden() -> None:
    broker = PaperBroker(config(), [BTC, ETH])
    mark(broker, 0, 0, [100.0, 10.0])
    request = broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1e9, 0)
    assert request is not None
    # 50% of 10,000 equity at the decision close of 100 -> 5,000 notional, ~50 units
    assert (request.side, request.quantity, request.target_notional) == (Side.BUY, 50.0, 5000.0)
    assert request.client_order_id == client_order_id("s", BTC, "core", 0)
    assert request.decision_equity == 10_000.0 and not request.reduce_only
    update = broker.submit(request)
    assert update.status is OrderStatus.ACCEPTED
    fills, updates = broker.fill_at_open(3_600_000, 1, [101.0, 10.0])
    (fill,) = fills
    qty = 5000.0 / 101.0  # the quantity is recomputed at the open from the notional
    price = 101.0 * (1.0 + 5e-4)
    assert fill.quantity == qty and fill.price == price
    assert fill.fee == qty * price * 1e-3 and fill.liquidity == "taker"
    assert fill.slippage_cost == qty * abs(price - 101.0)
    assert updates[-1].status is OrderStatus.FILLED and updates[-1].filled_quantity == qty
    assert broker.cash == 10_000.0 - (qty * price + fill.fee)
    assert broker.working_orders() == []
    mark(broker, 3_600_000, 1, [102.0, 10.0])
    snap = broker.portfolio()
    (pos,) = snap.positions
    assert (pos.symbol, pos.tag, pos.quantity, pos.avg_price) == (BTC, "core", qty, price)
    assert snap.equity == broker.cash + qty * 102.0 == broker.equity()
    # equity = initial cash + realised (after fees) + unrealised
    assert snap.equity == pytest.approx(10_000.0 + pos.realized_pnl + pos.unrealized_pnl,
                                        abs=1e-9)


def test_unchanged_target_and_flat_zero_target_make_no_order() -> None:
    broker = PaperBroker(config(direction="long_only"), [BTC])
    mark(broker, 0, 0, [100.0])
    assert broker.order_for(Signal("s", BTC, 0, 0.0), 100.0, 1.0, 0) is None  # already flat
    assert broker.order_for(Signal("s", BTC, 0, -1.0), 100.0, 1.0, 0) is None  # clipped to 0
    first = broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0)
    assert first is not None and first.target == 1.0
    assert broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0) is None  # unchanged
    other_tag = broker.order_for(Signal("s", BTC, 0, 1.0, tag="swing"), 100.0, 1.0, 0)
    assert other_tag is not None and other_tag.client_order_id != first.client_order_id


def test_long_only_flattens_a_long_on_a_negative_target() -> None:
    broker = PaperBroker(config(direction="long_only"), [BTC])
    mark(broker, 0, 0, [100.0])
    broker.submit(broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0))
    broker.fill_at_open(1, 1, [100.0])
    mark(broker, 1, 1, [100.0])
    exit_ = broker.order_for(Signal("s", BTC, 1, -1.0), 100.0, 1.0, 1)
    assert exit_ is not None
    assert (exit_.side, exit_.target, exit_.quantity) == (Side.SELL, 0.0, 50.0)
    assert exit_.reduce_only


def test_submit_is_idempotent() -> None:
    broker = PaperBroker(config(), [BTC])
    mark(broker, 0, 0, [100.0])
    request = broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0)
    first = broker.submit(request)
    before = broker.state_hash()
    assert broker.submit(request) == first
    assert broker.state_hash() == before and len(broker.working_orders()) == 1
    fills, _ = broker.fill_at_open(1, 1, [100.0])
    assert len(fills) == 1
    again = broker.submit(request)  # a retried command after the fill changes nothing
    assert again.status is OrderStatus.FILLED and broker.working_orders() == []
    assert broker.fill_at_open(2, 2, [100.0]) == ([], [])


def test_deny_cancel_and_unknown_symbol() -> None:
    broker = PaperBroker(config(), [BTC])
    mark(broker, 0, 0, [100.0])
    request = broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0)
    denied = broker.deny(request, "max_trade_size")
    assert (denied.status, denied.reason) == (OrderStatus.DENIED, "max_trade_size")
    assert broker.submit(request).status is OrderStatus.DENIED  # a denied id stays denied
    assert broker.working_orders() == []
    swing = broker.order_for(Signal("s", BTC, 0, 1.0, tag="swing"), 100.0, 1.0, 0)
    broker.submit(swing)
    (cancel,) = broker.cancel_all(5, "shutdown")
    assert (cancel.status, cancel.ts, cancel.reason) == (OrderStatus.CANCELED, 5, "shutdown")
    assert broker.order(swing.client_order_id).status is OrderStatus.CANCELED
    with pytest.raises(OrderStateError):
        broker.order(swing.client_order_id).transition(OrderStatus.FILLED, 6)
    foreign = PaperBroker(config(), [ETH])
    assert foreign.submit(request).status is OrderStatus.REJECTED
    assert foreign.working_orders() == []


def test_reduce_only_is_set_against_the_net_of_the_symbol() -> None:
    broker = PaperBroker(config(sizing={"fraction": 0.25}), [BTC])
    mark(broker, 0, 0, [100.0])
    for tag in ("core", "swing"):
        broker.submit(broker.order_for(Signal("s", BTC, 0, 1.0, tag=tag), 100.0, 1.0, 0))
    broker.fill_at_open(1, 1, [100.0])
    mark(broker, 1, 1, [100.0])
    assert broker.net_quantity(BTC) == 50.0
    flat_swing = broker.order_for(Signal("s", BTC, 1, 0.0, tag="swing"), 100.0, 1.0, 1)
    assert flat_swing.reduce_only and flat_swing.quantity == 25.0
    flip_core = broker.order_for(Signal("s", BTC, 1, -2.0), 100.0, 1.0, 1)
    assert not flip_core.reduce_only  # 25 long -> ~50 short: |net| 50 -> ~75
    # the flag is a decision-time verdict: each (symbol, tag) still fills like a backtest
    # column, even when another tag's fill at the same open changed the net first
    broker.submit(flip_core)
    broker.submit(flat_swing)
    fills, _ = broker.fill_at_open(2, 2, [100.0])
    assert [(f.tag, f.side) for f in fills] == [("core", Side.SELL), ("swing", Side.SELL)]
    assert broker.position(BTC, "swing").quantity == 0.0


def test_client_side_stops_take_profit_pays_maker() -> None:
    broker = PaperBroker(config(), [BTC])
    mark(broker, 0, 0, [100.0])
    broker.submit(broker.order_for(Signal("s", BTC, 0, 1.0, take_profit_pct=3.0,
                                          stop_loss_pct=50.0), 100.0, 1.0, 0))
    broker.fill_at_open(1, 1, [100.0])
    (position,) = broker.open_positions()
    assert (position.stop_loss, position.take_profit) == (0.5, 0.03)
    tp_level = position.stop_levels()[1]
    fills, updates = broker.trigger_stops(1, 1, [100.0], [200.0], [99.0])
    (fill,) = fills
    assert (fill.reason, fill.liquidity, fill.price) == ("take_profit", "maker", tp_level)
    assert fill.fee == fill.quantity * tp_level * 2e-4
    assert [u.status for u in updates] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert broker.open_positions() == []


def test_state_round_trip_pickle_and_deepcopy() -> None:
    broker = PaperBroker(config(), [BTC, ETH], initial_cash=50_000.0)
    mark(broker, 0, 0, [100.0, 10.0])
    broker.submit(broker.order_for(Signal("s", BTC, 0, 1.0), 100.0, 1.0, 0))
    broker.fill_at_open(1, 1, [100.0, 10.0])
    mark(broker, 1, 1, [101.0, 10.0])
    broker.submit(broker.order_for(Signal("s", ETH, 1, -1.0), 10.0, 1.0, 1))
    state = broker.state
    for restored_state in (state, copy.deepcopy(state), pickle.loads(pickle.dumps(state))):
        twin = PaperBroker.from_state(restored_state)
        assert twin.state_hash() == broker.state_hash()
        assert twin.portfolio() == broker.portfolio()
    twin = PaperBroker.from_state(state)
    broker.fill_at_open(2, 2, [102.0, 11.0])  # the original moves on, the state does not
    assert PaperBroker.from_state(state).state_hash() == twin.state_hash() != \
        broker.state_hash()
    twin.fill_at_open(2, 2, [102.0, 11.0])
    assert twin.state_hash() == broker.state_hash()
    assert np.isclose(twin.cash, broker.cash, rtol=0, atol=0)


def test_vol_target_sizing_is_refused() -> None:
    with pytest.raises(ConfigError, match="vol_target"):
        PaperBroker(config(sizing={"method": "vol_target"}), [BTC])
    with pytest.raises(ValueError, match="unique"):
        PaperBroker(config(), [BTC, BTC])
