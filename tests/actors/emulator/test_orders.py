"""Order entry through real ccxt: client ids, queries, cancels, refusals with Binance's codes."""

from __future__ import annotations

import itertools

import ccxt
import pytest

from actors.emulator import EmulatorServer
from tests.actors.emulator.support import START, connect, signed


def test_create_fetch_cancel_by_client_id(exchange: ccxt.binance,
                                          emulator: EmulatorServer) -> None:
    order = exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0,
                                  params={"newClientOrderId": "sess1-momentum-BTC-1"})
    assert order["clientOrderId"] == "sess1-momentum-BTC-1" and order["status"] == "open"
    assert order["price"] == 50_000.0 and order["amount"] == 0.001
    fetched = exchange.fetch_order(None, "BTC/USDT",
                                   params={"origClientOrderId": "sess1-momentum-BTC-1"})
    assert fetched["id"] == order["id"] and fetched["status"] == "open"
    assert exchange.fetch_order(order["id"], "BTC/USDT")["clientOrderId"] == order[
        "clientOrderId"]
    assert [o["id"] for o in exchange.fetch_open_orders("BTC/USDT")] == [order["id"]]
    balance = exchange.fetch_balance()["USDT"]
    assert balance["used"] == pytest.approx(50.0 * 1.001)  # price * qty + the fee reserve
    canceled = exchange.cancel_order(None, "BTC/USDT",
                                     params={"origClientOrderId": "sess1-momentum-BTC-1"})
    assert canceled["status"] == "canceled"
    assert canceled["info"]["origClientOrderId"] == "sess1-momentum-BTC-1"
    assert exchange.fetch_open_orders("BTC/USDT") == []
    assert exchange.fetch_balance()["USDT"] == {"free": 10_000.0, "used": 0.0,
                                                "total": 10_000.0}
    [ledger_order] = emulator.ledger.orders("BTC/USDT")
    assert (ledger_order.status, ledger_order.client_order_id) == ("CANCELED",
                                                                  "sess1-momentum-BTC-1")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):  # no longer open
        exchange.cancel_order(order["id"], "BTC/USDT")


def test_unknown_orders(exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "never-sent"})
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        exchange.fetch_order("77", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        exchange.cancel_order(None, "BTC/USDT", params={"origClientOrderId": "never-sent"})


def test_duplicate_client_id_of_an_open_order(exchange: ccxt.binance,
                                              emulator: EmulatorServer) -> None:
    params = {"newClientOrderId": "dup-1"}
    exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0, params=params)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0, params=params)
    assert len(emulator.ledger.orders()) == 1
    # the same id on another symbol, or after the first order ended, is accepted (Binance)
    exchange.create_order("ETH/USDT", "limit", "buy", 0.01, 1000.0, params=params)
    exchange.cancel_order(None, "BTC/USDT", params={"origClientOrderId": "dup-1"})
    again = exchange.create_order("BTC/USDT", "market", "buy", 0.001, params=params)
    assert again["status"] == "closed"
    assert exchange.fetch_order(None, "BTC/USDT", params={"origClientOrderId": "dup-1"})[
        "id"] == again["id"]


def test_order_ids_increase_per_symbol_and_generated_client_ids(
        exchange: ccxt.binance) -> None:
    ids = [exchange.create_order(symbol, "limit", "buy", qty, price)["id"]
           for symbol, qty, price in (("BTC/USDT", 0.001, 50_000.0), ("ETH/USDT", 0.01, 1000.0),
                                      ("BTC/USDT", 0.001, 50_000.0))]
    assert ids == ["1", "1", "2"]
    generated = exchange.fetch_order("2", "BTC/USDT")["clientOrderId"]
    assert generated.startswith("x-TKT5PX2F")  # ccxt's own id, kept as sent


@pytest.mark.parametrize(
    ("kind", "amount", "price", "message", "ccxt_class"),
    [
        ("limit", 0.000015, 50_000.0, "LOT_SIZE", ccxt.InvalidOrder),  # off the step
        ("limit", 0.000001, 50_000.0, "LOT_SIZE", ccxt.InvalidOrder),  # below minQty
        ("limit", 0.001, 50_000.005, "PRICE_FILTER", ccxt.InvalidOrder),  # off the tick
        # ccxt maps -1013 NOTIONAL to a generic BadRequest (the point 3)
        ("limit", 0.00001, 50_000.0, "NOTIONAL", ccxt.BadRequest),  # 0.5 USDT < 5
        ("market", 0.00004, None, "NOTIONAL", ccxt.BadRequest),  # ~4.2 USDT at the price
    ],
)
def test_filter_failures(emulator: EmulatorServer, kind: str, amount: float,
                         price: float | None, message: str,
                         ccxt_class: type[Exception]) -> None:
    exchange = connect(emulator)
    exchange.markets["BTC/USDT"]["precision"] = {"amount": 1e-8, "price": 1e-8}  # send as is
    with pytest.raises(ccxt_class, match=f"Filter failure: {message}"):
        exchange.create_order("BTC/USDT", kind, "buy", amount, price)
    assert emulator.ledger.orders() == []
    assert emulator.requests("/api/v3/order")[-1].code == -1013


def test_insufficient_balance(exchange: ccxt.binance, emulator: EmulatorServer) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="insufficient balance"):
        exchange.create_order("BTC/USDT", "market", "buy", 0.1)  # ~10,500 USDT > 10,000
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order("BTC/USDT", "market", "sell", 0.001)  # no BTC
    exchange.create_order("BTC/USDT", "limit", "buy", 0.09, 100_000.0)
    with pytest.raises(ccxt.InsufficientFunds):  # 9,009 USDT are locked by the limit
        exchange.create_order("BTC/USDT", "limit", "buy", 0.01, 100_000.0)
    assert len(emulator.ledger.orders()) == 1


def test_refusals_that_need_the_price(exchange: ccxt.binance) -> None:
    price = exchange.fetch_ticker("BTC/USDT")["last"]
    with pytest.raises(ccxt.InvalidOrder, match="immediately match and take"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, round(price + 100),
                              params={"postOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="Stop price would trigger immediately"):
        exchange.create_order("BTC/USDT", "limit", "buy", 0.001, round(price + 200),
                              params={"stopLossPrice": round(price - 100)})


def test_response_types(emulator: EmulatorServer) -> None:
    common = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    ack = signed(emulator, "POST", "/api/v3/order", **common, newOrderRespType="ACK").json()
    assert set(ack) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = signed(emulator, "POST", "/api/v3/order", **common,
                    newOrderRespType="RESULT").json()
    assert result["status"] == "FILLED" and "fills" not in result
    full = signed(emulator, "POST", "/api/v3/order", **common).json()  # FULL by default
    [fill] = full["fills"]
    assert set(fill) == {"price", "qty", "commission", "commissionAsset", "tradeId"}
    assert fill["commissionAsset"] == "USDT" and full["executedQty"] == "0.00100000"
    assert float(full["cummulativeQuoteQty"]) == pytest.approx(float(fill["price"]) * 0.001)
    assert full["transactTime"] == START and full["workingTime"] == START
    assert [ack["orderId"], result["orderId"], full["orderId"]] == [1, 2, 3]


def test_malformed_parameters_get_binance_codes_never_500(emulator: EmulatorServer) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.001", "price": "50000"}
    cases = [
        ({"symbol": None}, -1102), ({"symbol": "NOPE"}, -1121), ({"side": "UP"}, -1117),
        ({"type": "ICEBERG"}, -1116), ({"timeInForce": "DAY"}, -1115),
        ({"timeInForce": None}, -1102), ({"quantity": None}, -1102),
        ({"quantity": "1e-3"}, -1100), ({"price": "abc"}, -1100), ({"price": None}, -1102),
        ({"newClientOrderId": "bad id!"}, -1100), ({"newClientOrderId": "x" * 37}, -1100),
        ({"newOrderRespType": "ALL"}, -1100), ({"stopPrice": "1"}, -1106),
        ({"type": "MARKET", "timeInForce": None, "price": None, "quantity": None}, -1102),
        ({"type": "STOP_LOSS_LIMIT"}, -1102), ({"quantity": "0"}, -1013),
    ]
    for change, code in cases:
        params = {k: v for k, v in {**base, **change}.items() if v is not None}
        answer = signed(emulator, "POST", "/api/v3/order", **params)
        assert (answer.status_code, answer.json()["code"]) == (400, code), change
    for path, params in [("/api/v3/order", {"symbol": "BTCUSDT"}),
                         ("/api/v3/order", {"symbol": "BTCUSDT", "orderId": "x"}),
                         ("/api/v3/myTrades", {}), ("/api/v3/allOrders", {"symbol": "NOPE"}),
                         ("/api/v3/myTrades", {"symbol": "BTCUSDT", "limit": "0"})]:
        answer = signed(emulator, "GET", path, **params)
        assert answer.status_code == 400 and answer.json()["code"] < 0, (path, params)
    assert all(r.status != 500 for r in emulator.requests())
    assert emulator.ledger.orders() == []


def test_history_endpoints(exchange: ccxt.binance, emulator: EmulatorServer) -> None:
    for k in range(3):
        exchange.create_order("BTC/USDT", "market", "buy", 0.001,
                              params={"newClientOrderId": f"m-{k}"})
        emulator.clock.advance_bars(1)
    exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000.0)
    orders = exchange.fetch_orders("BTC/USDT")
    assert [o["status"] for o in orders] == ["closed"] * 3 + ["open"]
    trades = exchange.fetch_my_trades("BTC/USDT")
    assert [t["order"] for t in trades] == ["1", "2", "3"]
    assert [t["id"] for t in exchange.fetch_my_trades("BTC/USDT", params={"fromId": 2})] == [
        "2", "3"]
    assert len(exchange.fetch_order_trades("2", "BTC/USDT")) == 1
    assert exchange.fetch_my_trades("ETH/USDT") == []
    canceled = exchange.cancel_all_orders("BTC/USDT")
    assert [o["status"] for o in canceled] == ["canceled"]
    assert list(itertools.chain(exchange.fetch_open_orders("BTC/USDT"))) == []
