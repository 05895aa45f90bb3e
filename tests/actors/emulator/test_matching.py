"""Fills: parity with the backtester's fill model, limit / stop / OCO rules as the clock moves."""

from __future__ import annotations

import math

import ccxt
import numpy as np
import pytest

from actors.emulator import EmulatorServer
from configs.backtest import BacktestConfig, CostsConfig, SizingConfig
from core.backtest.engine import run_backtest
from core.backtest.fills import slippage_fraction
from core.backtest.instructions import Targets
from core.backtest.layout import O_CASH, O_FEE, O_PRICE, O_QTY, P_HALF_SPREAD, P_TAKER_FEE
from core.backtest.market import MarketArrays
from core.backtest.params import build_params
from core.data.candles import Candles
from tests.actors.emulator.support import MINUTE, START, connect

COSTS = CostsConfig(maker_fee_bps=2.0, taker_fee_bps=7.5, half_spread_bps=3.0,
                    impact_coef=0.8, impact_exponent=0.5, max_slippage_bps=80.0)


def bar_index(candles: Candles, ts: int) -> int:
    return int(np.searchsorted(candles.timestamp, ts))


def expected_taker(candles: Candles, k: int, qty: float, side: float, level: float | None = None
                   ) -> tuple[float, float]:
    """(price, fee) of the backtester's fill: the project's own functions and arithmetic."""
    p = build_params(BacktestConfig(costs=COSTS))
    slip = slippage_fraction(qty, float(candles.volume[k - 1]), p[P_HALF_SPREAD], p)
    reference = float(candles.open[k]) if level is None else level
    price = reference * (1.0 + side * slip)
    return price, qty * price * p[P_TAKER_FEE]


def test_market_fills_equal_the_backtesters_formula(make_emulator,
                                                    candles_1m: dict[str, Candles]) -> None:
    emulator = make_emulator(costs=COSTS, balances={"USDT": 100_000.0})
    exchange = connect(emulator)
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)  # the forming bar: the order fills at its open
    buy = exchange.create_order("BTC/USDT", "market", "buy", 0.3)
    price, fee = expected_taker(bars, k, 0.3, 1.0)
    assert buy["average"] == price and buy["fee"]["cost"] == fee  # bit for bit
    assert buy["fee"]["currency"] == "USDT" and buy["timestamp"] == START
    cash = 100_000.0
    cash -= 0.3 * price + fee  # core.backtest.fills.apply_fill: cash -= dq * price + fee
    emulator.clock.advance_bars(3)
    sell = exchange.create_order("BTC/USDT", "market", "sell", 0.3)
    price, fee = expected_taker(bars, k + 3, 0.3, -1.0)
    assert sell["average"] == price and sell["fee"]["cost"] == fee
    cash -= -0.3 * price + fee
    balances = emulator.ledger.balances()
    assert balances["USDT"] == (cash, 0.0) and balances["BTC"] == (0.0, 0.0)
    assert exchange.fetch_balance()["USDT"]["free"] == cash  # the text round-trips exactly


def test_market_fills_equal_the_backtest_kernel(make_emulator,
                                                candles_1m: dict[str, Candles]) -> None:
    """The same entries and exits through ``run_backtest`` and through the emulator."""
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    window = bars.take(slice(k - 10, k + 10))
    targets = np.full((len(window), 1), np.nan)
    targets[9, 0], targets[14, 0] = 1.0, 0.0  # decided at closes: fills at bars k and k + 5
    config = BacktestConfig(costs=COSTS, lot_size=0.00001, sizing=SizingConfig(
        method="fixed_notional", notional=3000.0))
    result = run_backtest(MarketArrays.from_candles([window]), Targets(targets), config)
    entry, exit_ = result.orders[:, 1:]
    emulator = make_emulator(costs=COSTS)
    exchange = connect(emulator)
    qty = entry[O_QTY]
    buy = exchange.create_order("BTC/USDT", "market", "buy", qty)
    emulator.clock.advance_bars(5)
    sell = exchange.create_order("BTC/USDT", "market", "sell", qty)
    assert buy["filled"] == pytest.approx(qty, rel=1e-12)
    for order, row in ((buy, entry), (sell, exit_)):
        assert order["average"] == row[O_PRICE]  # slippage on the decision bar's volume
        assert order["fee"]["cost"] == pytest.approx(row[O_FEE], rel=1e-12)
    assert emulator.ledger.balances()["USDT"][0] == pytest.approx(exit_[O_CASH], rel=1e-12)


def first_touch(candles: Candles, k: int, level: float, below: bool) -> tuple[int, float, bool]:
    """The documented rule: (bar, price, at_open) where a level is first reached from bar k."""
    for j in range(k, len(candles)):
        o, h, low = candles.open[j], candles.high[j], candles.low[j]
        if below and o <= level or not below and o >= level:
            return j, float(o), True
        if below and low <= level or not below and h >= level:
            return j, level, False
    return len(candles), math.nan, False


def test_resting_limit_fills_when_the_clock_passes_its_bar(
        emulator: EmulatorServer, exchange: ccxt.binance, candles_1m: dict[str, Candles]) -> None:
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    level = math.floor(float(bars.open[k]) * 0.999 * 100) / 100
    j, price, at_open = first_touch(bars, k, level, below=True)
    assert j > k + 1  # a real wait
    order = exchange.create_order("BTC/USDT", "limit", "buy", 0.01, level,
                                  params={"newClientOrderId": "dip-buyer"})
    assert order["status"] == "open"
    close_j = int(bars.timestamp[j]) + MINUTE
    emulator.clock.to_ms(close_j - 1)  # bar j still forming: not known yet
    assert exchange.fetch_order(order["id"], "BTC/USDT")["status"] == "open"
    emulator.clock.to_ms(close_j)
    filled = exchange.fetch_order(order["id"], "BTC/USDT")
    assert filled["status"] == "closed" and filled["average"] == price
    [trade] = exchange.fetch_my_trades("BTC/USDT")
    assert trade["takerOrMaker"] == "maker"
    assert trade["fee"]["cost"] == pytest.approx(0.01 * price * 0.001)
    assert trade["timestamp"] == (int(bars.timestamp[j]) if at_open else close_j - 1)
    assert emulator.ledger.balances()["BTC"] == (0.01, 0.0)
    usdt_free, usdt_locked = emulator.ledger.balances()["USDT"]
    assert usdt_locked == 0.0
    assert usdt_free == pytest.approx(10_000.0 - 0.01 * price * 1.001, rel=1e-12)


def test_marketable_limit_and_ioc(exchange: ccxt.binance, candles_1m: dict[str, Candles]) -> None:
    bars = candles_1m["BTC/USDT"]
    o = float(bars.open[bar_index(bars, START)])
    taker = exchange.create_order("BTC/USDT", "limit", "buy", 0.001, round(o + 500))
    assert taker["status"] == "closed" and o < taker["average"] < o + 500
    capped = exchange.create_order("BTC/USDT", "limit", "buy", 0.001, o)  # the cap wins
    assert capped["average"] == o
    ioc = exchange.create_order("BTC/USDT", "limit", "buy", 0.001, round(o - 500),
                                params={"timeInForce": "IOC"})
    assert ioc["status"] == "expired" and ioc["filled"] == 0.0


def test_stop_loss_fills_like_the_backtesters_stop(make_emulator,
                                                   candles_1m: dict[str, Candles]) -> None:
    emulator = make_emulator(costs=COSTS, balances={"USDT": 0.0, "BTC": 0.2})
    exchange = connect(emulator)
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    stop = math.floor(float(bars.open[k]) * 0.9985 * 100) / 100
    j, level, _ = first_touch(bars, k, stop, below=True)
    order = exchange.create_order("BTC/USDT", "market", "sell", 0.2,
                                  params={"stopLossPrice": stop})
    assert order["info"]["type"] == "STOP_LOSS" and order["status"] == "open"
    assert emulator.ledger.balances()["BTC"] == (0.0, 0.2)
    emulator.clock.to_ms(int(bars.timestamp[j]) + MINUTE)
    filled = exchange.fetch_order(order["id"], "BTC/USDT")
    price, fee = expected_taker(bars, j, 0.2, -1.0, level=level)
    assert filled["status"] == "closed" and filled["average"] == price
    assert emulator.ledger.trades()[0].commission == fee
    assert emulator.ledger.balances()["USDT"] == (-(-0.2 * price + fee), 0.0)


def test_take_profit_limit_is_the_backtesters_take_profit(
        emulator: EmulatorServer, candles_1m: dict[str, Candles]) -> None:
    emulator.ledger.set_balance("BTC", 0.1)
    exchange = connect(emulator)
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    target = math.ceil(float(bars.open[k]) * 1.002 * 100) / 100
    j, price, _ = first_touch(bars, k, target, below=False)
    order = exchange.create_order("BTC/USDT", "limit", "sell", 0.1, target,
                                  params={"takeProfitPrice": target})
    assert order["info"]["type"] == "TAKE_PROFIT_LIMIT"
    emulator.clock.to_ms(int(bars.timestamp[j]) + MINUTE)
    filled = exchange.fetch_order(order["id"], "BTC/USDT")
    assert filled["average"] == max(float(bars.open[j]), target) == price
    assert exchange.fetch_my_trades("BTC/USDT")[0]["takerOrMaker"] == "maker"


def test_oco_one_leg_fills_the_other_expires(
        emulator: EmulatorServer, candles_1m: dict[str, Candles]) -> None:
    emulator.ledger.set_balance("BTC", 0.05)
    exchange = connect(emulator)
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    o = float(bars.open[k])
    above, below = math.ceil(o * 1.003 * 100) / 100, math.floor(o * 0.998 * 100) / 100
    up = first_touch(bars, k, above, below=False)
    down = first_touch(bars, k, below, below=True)
    answer = exchange.privatePostOrderListOco({
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.05", "listClientOrderId": "bracket",
        "aboveType": "LIMIT_MAKER", "abovePrice": f"{above:.2f}",
        "aboveClientOrderId": "bracket-tp", "belowType": "STOP_LOSS",
        "belowStopPrice": f"{below:.2f}", "belowClientOrderId": "bracket-sl"})
    assert answer["listOrderStatus"] == "EXECUTING" and len(answer["orderReports"]) == 2
    assert emulator.ledger.balances()["BTC"] == (0.0, 0.05)  # one reservation for both legs
    assert len(exchange.fetch_open_orders("BTC/USDT")) == 2
    first = min(up[0], down[0])
    emulator.clock.to_ms(int(bars.timestamp[first]) + MINUTE)
    tp = exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "bracket-tp"})
    sl = exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "bracket-sl"})
    winner, loser = (sl, tp) if down[0] <= up[0] else (tp, sl)  # the stop first on a tie
    assert winner["status"] == "closed" and loser["status"] == "expired"
    assert exchange.privateGetOrderList({"orderListId": answer["orderListId"]})[
        "listOrderStatus"] == "ALL_DONE"
    assert emulator.ledger.balances()["BTC"] == (0.0, 0.0)


def test_oco_cancel_cancels_both(emulator: EmulatorServer,
                                 candles_1m: dict[str, Candles]) -> None:
    emulator.ledger.set_balance("BTC", 0.05)
    exchange = connect(emulator)
    o = float(candles_1m["BTC/USDT"].open[bar_index(candles_1m["BTC/USDT"], START)])
    answer = exchange.privatePostOrderOco({  # the older endpoint, same engine
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.05", "price": f"{o * 1.1:.2f}",
        "stopPrice": f"{o * 0.9:.2f}", "stopLimitPrice": f"{o * 0.89:.2f}",
        "stopLimitTimeInForce": "GTC"})
    types = sorted(r["type"] for r in answer["orderReports"])
    assert types == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    exchange.cancel_order(str(answer["orders"][0]["orderId"]), "BTC/USDT")
    assert {o.status for o in emulator.ledger.orders()} == {"CANCELED"}
    assert emulator.ledger.balances()["BTC"] == (0.05, 0.0)


def test_participation_cap_splits_a_market_order(make_emulator,
                                                 candles_1m: dict[str, Candles]) -> None:
    emulator = make_emulator(max_participation=0.05, balances={"USDT": 1_000_000.0})
    exchange = connect(emulator)
    bars = candles_1m["BTC/USDT"]
    k = bar_index(bars, START)
    cap = math.floor(0.05 * float(bars.volume[k - 1]) * 1e5) / 1e5
    qty = round(cap * 1.5, 5)
    order = exchange.create_order("BTC/USDT", "market", "buy", qty)
    assert order["status"] == "open" and order["filled"] == pytest.approx(cap)
    emulator.clock.advance_bars(1)
    done = exchange.fetch_order(order["id"], "BTC/USDT")
    assert done["status"] == "closed" and done["filled"] == pytest.approx(qty)
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [t["timestamp"] for t in trades] == [START, START + MINUTE]  # the next bar's open


def test_buy_commission_in_the_base_asset(make_emulator) -> None:
    emulator = make_emulator(buy_fee_in_base=True)
    exchange = connect(emulator)
    order = exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert order["fee"] == {"currency": "BTC", "cost": pytest.approx(0.01 * 0.001)}
    assert emulator.ledger.balances()["BTC"][0] == pytest.approx(0.01 * 0.999)
    assert emulator.ledger.balances()["USDT"][0] == pytest.approx(10_000 - order["cost"])


def test_market_order_by_quote_amount(exchange: ccxt.binance) -> None:
    order = exchange.create_order("BTC/USDT", "market", "buy", None,
                                  params={"quoteOrderQty": 1000})
    assert order["status"] == "closed" and 990 < order["cost"] <= 1000
    assert round(order["filled"], 5) == order["filled"]  # on the lot step
