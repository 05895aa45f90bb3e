"""OrderPlanner: target changes become sized order requests (the backtester's sizing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.backtest.params import build_params
from core.backtest.sizing import size_notional
from core.backtest.volatility import StreamingVolatility, realized_volatility
from core.data.timeframes import periods_per_year
from core.trading.messages import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Side,
    Signal,
    client_order_id,
)
from core.trading.planner import OrderPlanner
from core.trading.portfolio import Portfolio
from tests.core.trading.sim_helpers import BTC, ETH, HOUR, random_market

LONG_SHORT = BacktestConfig(direction="long_short", sizing={"fraction": 0.5})


def book_with(*holdings: tuple[str, str, float, int], closes: tuple[float, float] = (100.0,
                                                                                    50.0)
              ) -> Portfolio:
    """A book holding ``(symbol, tag, signed quantity, entry index)`` marked at ``closes``."""
    book = Portfolio([BTC, ETH], 10_000.0)
    for symbol, tag, qty, index in holdings:
        price = closes[0] if symbol == BTC else closes[1]
        book.apply(Fill("f", "s", symbol, tag, index * HOUR, Side.BUY if qty > 0 else Side.SELL,
                        abs(qty), price, 0.0, 0.0), index)
    c = np.asarray(closes)
    book.mark(10 * HOUR, 10, c, np.ones(2), c, c)
    return book


def signal(target: float, symbol: str = BTC, tag: str = "core", ts: int = 10 * HOUR
           ) -> Signal:
    return Signal("s", symbol, ts, target, tag=tag)


def test_an_order_only_when_the_target_changes() -> None:
    planner = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR)
    book = book_with()
    first = planner.plan(signal(1.0), book, 10 * HOUR)
    assert first is not None
    assert (first.side, first.target, first.target_notional) == (Side.BUY, 1.0, 5_000.0)
    assert (first.quantity, first.reference_price, first.decision_equity) == (50.0, 100.0,
                                                                              10_000.0)
    assert first.client_order_id == client_order_id("s", BTC, "core", 10 * HOUR)
    assert not first.reduce_only and first.kind == "signal"
    assert planner.plan(signal(1.0, ts=11 * HOUR), book, 11 * HOUR) is None
    assert planner.plan(signal(math.nan, ts=12 * HOUR), book, 12 * HOUR) is None  # keep
    assert planner.plan(signal(1.0, tag="swing"), book, 10 * HOUR) is not None  # other key
    assert planner.plan(signal(-1.0, ts=13 * HOUR), book, 13 * HOUR).side is Side.SELL


def test_a_denied_target_is_not_retried_until_it_changes() -> None:
    planner = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR)
    book = book_with()
    assert planner.plan(signal(1.0), book, 10 * HOUR) is not None  # the gate denies it
    for k in range(11, 15):
        assert planner.plan(signal(1.0, ts=k * HOUR), book, k * HOUR) is None
    again = planner.plan(signal(0.5, ts=15 * HOUR), book, 15 * HOUR)
    assert again is not None and again.target_notional == 2_500.0


def test_long_only_clips_negative_targets_to_flat() -> None:
    planner = OrderPlanner(BacktestConfig(), [BTC, ETH], HOUR)
    assert planner.plan(signal(-1.0), book_with(), 10 * HOUR) is None  # flat already
    held = book_with((BTC, "core", 3.0, 2))
    exit_ = planner.plan(signal(-0.5, ts=11 * HOUR), held, 11 * HOUR)
    assert exit_ is not None
    assert (exit_.side, exit_.quantity, exit_.target, exit_.target_notional) == (
        Side.SELL, 3.0, 0.0, 0.0)
    assert exit_.reduce_only


def test_zero_target_when_flat_is_no_order() -> None:
    planner = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR)
    assert planner.plan(signal(0.0), book_with((ETH, "core", 2.0, 1)), 10 * HOUR) is None
    close = planner.plan(signal(0.0, ETH), book_with((ETH, "core", 2.0, 1)), 10 * HOUR)
    assert close is not None and (close.side, close.quantity) == (Side.SELL, 2.0)


def test_reduce_only_is_judged_on_the_symbols_net_over_tags() -> None:
    planner = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR)
    # core +2, swing +1: closing core (-2) reduces the net 3 -> 1
    book = book_with((BTC, "core", 2.0, 1), (BTC, "swing", 1.0, 1))
    assert planner.plan(signal(0.0), book, 10 * HOUR).reduce_only
    # core +2, swing -1: closing the swing short buys 1: the net grows 1 -> 2
    book = book_with((BTC, "core", 2.0, 1), (BTC, "swing", -1.0, 1))
    cover = planner.plan(signal(0.0, tag="swing"), book, 10 * HOUR)
    assert (cover.side, cover.quantity, cover.reduce_only) == (Side.BUY, 1.0, False)
    # core +1, swing -3 (net -2): closing core sells 1 -> net -3, not reducing
    book = book_with((BTC, "core", 1.0, 1), (BTC, "swing", -3.0, 1))
    assert not OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR).plan(signal(0.0), book,
                                                               10 * HOUR).reduce_only
    # core +3, swing -1 (net +2): a flip of core to -1 sells 4 > 2: flips the net
    book = book_with((BTC, "core", 3.0, 1), (BTC, "swing", -1.0, 1), closes=(100.0, 50.0))
    flip = OrderPlanner(BacktestConfig(direction="long_short", sizing={
        "method": "fixed_notional", "notional": 100.0}), [BTC, ETH], HOUR)
    order = flip.plan(signal(-1.0), book, 10 * HOUR)
    assert (order.side, order.quantity, order.reduce_only) == (Side.SELL, 4.0, False)


def test_reduce_only_counts_the_pending_and_working_orders_as_the_gate_does() -> None:
    book = book_with((BTC, "core", 2.0, 1))
    flip = OrderRequest("p", "s", BTC, "swing", 10 * HOUR, Side.SELL, 2.0, 100.0, -1.0,
                        -200.0, True)
    alone = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR).plan(signal(0.0), book, 10 * HOUR)
    with_flip = OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR).plan(signal(0.0), book, 10 * HOUR,
                                                                [flip])
    assert alone.reduce_only and not with_flip.reduce_only  # the net is already 0 with it
    assert book.exposure([flip]).net_quantity(BTC) == 0.0
    book.announce(flip)
    book.apply(OrderUpdate("p", 10 * HOUR, OrderStatus.ACCEPTED), 10)  # now working
    assert not OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR).plan(signal(0.0), book,
                                                               10 * HOUR).reduce_only
    planner = OrderPlanner(BacktestConfig(stops={"time_stop_bars": 1}), [BTC, ETH], HOUR)
    (position,) = book.open_positions()
    assert not planner.time_stop(position, book, 10 * HOUR).reduce_only


def test_unknown_symbol_raises() -> None:
    with pytest.raises(ValueError, match="unknown symbol 'DOGE/USDT'"):
        OrderPlanner(LONG_SHORT, [BTC, ETH], HOUR).plan(signal(1.0, "DOGE/USDT"), book_with(),
                                                        10 * HOUR)


def test_risk_caps_and_filters_shape_the_estimate() -> None:
    limits = RiskLimits(max_position_pct=10.0)
    planner = OrderPlanner(BacktestConfig(lot_size=4.0, min_notional=300.0), [BTC, ETH], HOUR,
                           limits)
    order = planner.plan(signal(1.0), book_with(), 10 * HOUR)
    assert (order.target_notional, order.quantity) == (1_000.0, 8.0)  # 10 units -> lots of 4
    tiny = OrderPlanner(BacktestConfig(sizing={"method": "fixed_notional", "notional": 250.0},
                                       min_notional=300.0), [BTC, ETH], HOUR)
    assert tiny.plan(signal(1.0), book_with(), 10 * HOUR) is None  # below the minimum


def test_vol_target_waits_for_the_volatility_then_sizes_as_the_backtester() -> None:
    config = BacktestConfig(sizing={"method": "vol_target", "vol_target_annual": 0.4,
                                    "vol_lookback_bars": 24, "max_leverage": 2.0})
    market = random_market(4, 300, (BTC, ETH))
    closes = np.asarray(market.close)
    planner = OrderPlanner(config, [BTC, ETH], HOUR)
    p = build_params(config)
    vol = StreamingVolatility(24, periods_per_year(HOUR))
    expected = realized_volatility(np.ascontiguousarray(closes[:, 0]), 24, 24 * 365.0)
    bounds = [0, 7, 24, 25, 26, 100, 101, 173, 300]
    target = 0.0
    for a, b in zip(bounds, bounds[1:], strict=False):
        planner.observe(closes[a:b])
        vol.update(closes[a:b, 0])
        book = Portfolio([BTC, ETH], 10_000.0)
        book.mark((b - 1) * HOUR, b - 1, closes[b - 1], np.ones(2), closes[b - 1],
                  closes[b - 1])
        target = 1.5 if target != 1.5 else 0.75
        order = planner.plan(signal(target, ts=(b - 1) * HOUR), book, (b - 1) * HOUR)
        if b <= 24:
            assert order is None and math.isnan(vol.last)  # 24 returns need 25 closes
            continue
        assert vol.last == expected[b - 1]
        assert order.target_notional == size_notional(target, 10_000.0, vol.last, p)
        assert order.quantity == order.target_notional / closes[b - 1, 0]


def test_time_stop_is_due_once_per_position() -> None:
    config = BacktestConfig(stops={"time_stop_bars": 5})
    planner = OrderPlanner(config, [BTC, ETH], HOUR)
    assert planner.time_stop_bars == 5
    book = book_with((BTC, "core", 2.0, 3), (ETH, "swing", 1.0, 8))
    btc, eth = book.open_positions()
    assert (planner.time_stop_due(btc), planner.time_stop_due(eth)) == (3 + 5 - 1, 8 + 5 - 1)
    exit_ = planner.time_stop(btc, book, 10 * HOUR)
    assert (exit_.kind, exit_.side, exit_.quantity, exit_.target, exit_.ts) == (
        "time_stop", Side.SELL, 2.0, 0.0, 10 * HOUR)
    assert exit_.client_order_id == client_order_id("s", BTC, "core", 3 * HOUR, "time_stop")
    assert exit_.reduce_only and exit_.decision_equity == book.equity()
    assert planner.time_stop_due(btc) is None and planner.time_stop_due(eth) == 12
    # a new position (opened at another bar) gets its own time stop
    book.apply(Fill("g", "s", BTC, "core", 11 * HOUR, Side.SELL, 2.0, 100.0, 0.0, 0.0), 11)
    book.apply(Fill("h", "s", BTC, "core", 12 * HOUR, Side.BUY, 1.0, 100.0, 0.0, 0.0), 12)
    assert planner.time_stop_due(book.position(BTC)) == 16
    restored = OrderPlanner(config, [BTC, ETH], HOUR)
    restored.restore(planner.state)
    assert restored.state.time_stops == (exit_.client_order_id,)
    assert restored.time_stop_due(eth) == 12 and restored.time_stop_due(btc) == 16
    assert OrderPlanner(BacktestConfig(), [BTC], HOUR).time_stop_due(btc) is None


def test_state_restore_keeps_targets_and_volatility() -> None:
    config = BacktestConfig(sizing={"method": "vol_target", "vol_lookback_bars": 10})
    closes = np.asarray(random_market(2, 60, (BTC, ETH)).close)
    planner = OrderPlanner(config, [BTC, ETH], HOUR)
    planner.observe(closes[:30])
    book = book_with(closes=(float(closes[29, 0]), float(closes[29, 1])))
    planner.plan(signal(1.0), book, 10 * HOUR)
    twin = OrderPlanner(config, [BTC, ETH], HOUR)
    twin.restore(planner.state)
    assert twin.plan(signal(1.0, ts=11 * HOUR), book, 11 * HOUR) is None  # target remembered
    planner.observe(closes[30:])
    twin.observe(closes[30:])
    a = planner.plan(signal(0.5, ts=12 * HOUR), book, 12 * HOUR)
    assert a == twin.plan(signal(0.5, ts=12 * HOUR), book, 12 * HOUR) and a is not None
