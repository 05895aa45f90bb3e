"""Binance's SIGNED spot endpoints: account, orders, open orders, history, trades, OCO lists.

The server checks key, timestamp and signature before these handlers run; they read the
parameters Binance reads, call the venue and answer in Binance's formats (ccxt parses them
with ``parse_order``, ``parse_trade`` and ``parse_balance``).
"""

from __future__ import annotations

from typing import Any

from actors.emulator.errors import (
    BinanceError,
    mandatory,
    order_list_not_found,
    order_not_found,
    unknown_order,
    unknown_order_list,
)
from actors.emulator.oco import legacy_params, read_oco
from actors.emulator.order_entry import read_new_order, read_symbol
from actors.emulator.orders import Order, OrderList
from actors.emulator.params import Params
from actors.emulator.routes import Call, Routes


def account(call: Call) -> Any:
    """``GET /api/v3/account``."""
    body = call.venue.account()
    if call.params.raw("omitZeroBalances") == "true":
        body["balances"] = [b for b in body["balances"]
                            if float(b["free"]) or float(b["locked"])]
    return body


def new_order(call: Call) -> Any:
    """``POST /api/v3/order``: ACK, RESULT or FULL answer."""
    venue = call.venue
    new = read_new_order(call.params, venue.market.series, venue.specs)
    order, fills = venue.place(new, call.effects)
    if new.response_type == "ACK":
        return order.ack_json()
    if new.response_type == "RESULT":
        return order.result_json()
    return order.result_json(fills)


def test_order(call: Call) -> Any:
    """``POST /api/v3/order/test``: the static checks only; ``{}`` when they pass."""
    read_new_order(call.params, call.venue.market.series, call.venue.specs)
    return {}


def _find(call: Call, not_found: BinanceError) -> Order:
    params = call.params
    series = read_symbol(params, call.venue.market.series)
    order_id = params.integer("orderId")
    client_id = params.raw("origClientOrderId")
    if order_id is None and client_id is None:
        raise BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                                  "both were empty/null!")
    with call.venue.lock:
        order = call.venue.ledger.find(series.market_id, order_id, client_id)
    if order is None:
        raise not_found
    return order


def get_order(call: Call) -> Any:
    """``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId`` (-2013 if unknown)."""
    order = _find(call, order_not_found())
    with call.venue.lock:
        return order.query_json()


def cancel_order(call: Call) -> Any:
    """``DELETE /api/v3/order`` (-2011 if unknown or no longer open).

    Canceling a leg of an OCO cancels the whole list, as Binance does.
    """
    order = _find(call, unknown_order())
    cancel_id = call.params.client_id("newClientOrderId")
    venue = call.venue
    with venue.lock:
        canceled = venue.cancel(order)
        if not canceled:
            raise unknown_order()
        return order.cancel_json(cancel_id or venue.ledger.generated_client_id(),
                                 call.venue_ms)


def cancel_all(call: Call) -> Any:
    """``DELETE /api/v3/openOrders``: every open order of a symbol (lists as list objects)."""
    venue = call.venue
    series = read_symbol(call.params, venue.market.series)
    answers: list[dict[str, Any]] = []
    with venue.lock:
        open_orders = venue.ledger.open_orders(series.market_id)
        if not open_orders:
            raise unknown_order()
        done: set[int] = set()
        for order in open_orders:
            if order.order_list_id in done or not venue.cancel(order):
                continue
            if order.order_list_id >= 0:
                done.add(order.order_list_id)
                answers.append(venue.ledger.lists[order.order_list_id].to_json(reports=True))
            else:
                answers.append(order.cancel_json(venue.ledger.generated_client_id(),
                                                 call.venue_ms))
    return answers


def open_orders(call: Call) -> Any:
    """``GET /api/v3/openOrders`` (one symbol, or all without ``symbol``)."""
    venue = call.venue
    market_id = read_symbol(call.params, venue.market.series).market_id \
        if call.params.has("symbol") else None
    with venue.lock:
        return [o.query_json() for o in venue.ledger.open_orders(market_id)]


def _window(params: Params, rows: list[Any], time_of: Any, id_of: Any, id_param: str
            ) -> list[Any]:
    """Binance's history paging: from an id, or a time window, else the newest ``limit``."""
    limit = params.limit(default=500, maximum=1000)
    from_id = params.integer(id_param)
    start, end = params.integer("startTime"), params.integer("endTime")
    if from_id is not None:
        return [r for r in rows if id_of(r) >= from_id][:limit]
    if start is not None or end is not None:
        if start is not None and end is not None and end - start > 86_400_000:
            raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
        picked = [r for r in rows if (start is None or time_of(r) >= start)
                  and (end is None or time_of(r) <= end)]
        return picked[:limit] if start is not None else picked[-limit:]
    return rows[-limit:]


def all_orders(call: Call) -> Any:
    """``GET /api/v3/allOrders`` (symbol mandatory)."""
    venue = call.venue
    series = read_symbol(call.params, venue.market.series)
    with venue.lock:
        rows = venue.ledger.symbol_orders(series.market_id)
        picked = _window(call.params, rows, lambda o: o.time, lambda o: o.order_id, "orderId")
        return [o.query_json() for o in picked]


def my_trades(call: Call) -> Any:
    """``GET /api/v3/myTrades`` (symbol mandatory; ``orderId`` narrows to one order)."""
    venue = call.venue
    params = call.params
    series = read_symbol(params, venue.market.series)
    order_id = params.integer("orderId")
    with venue.lock:
        rows = [t for t in venue.ledger.trades if t.symbol == series.market_id
                and (order_id is None or t.order_id == order_id)]
        picked = _window(params, rows, lambda t: t.time, lambda t: t.id, "fromId")
        return [t.to_json() for t in picked]


def new_oco(call: Call) -> Any:
    """``POST /api/v3/orderList/oco``."""
    venue = call.venue
    legs, list_client_id = read_oco(call.params, venue.market.series, venue.specs)
    order_list = venue.place_list(legs, list_client_id, call.effects)
    with venue.lock:
        return order_list.to_json(reports=True)


def new_legacy_oco(call: Call) -> Any:
    """``POST /api/v3/order/oco`` (deprecated by Binance, same engine)."""
    params = legacy_params(call.params)
    venue = call.venue
    legs, list_client_id = read_oco(params, venue.market.series, venue.specs)
    order_list = venue.place_list(legs, list_client_id, call.effects)
    with venue.lock:
        return order_list.to_json(reports=True)


def _find_list(call: Call, client_key: str) -> OrderList | None:
    params = call.params
    list_id = params.integer("orderListId")
    client_id = params.raw(client_key)
    if list_id is None and client_id is None:
        raise mandatory("orderListId")
    with call.venue.lock:
        for order_list in call.venue.ledger.lists.values():
            if (list_id is None or order_list.order_list_id == list_id) and (
                    client_id is None or order_list.list_client_order_id == client_id):
                return order_list
    return None


def get_order_list(call: Call) -> Any:
    """``GET /api/v3/orderList`` by ``orderListId`` or ``origClientOrderId``."""
    order_list = _find_list(call, "origClientOrderId")
    if order_list is None:
        raise order_list_not_found()
    with call.venue.lock:
        return order_list.to_json()


def cancel_order_list(call: Call) -> Any:
    """``DELETE /api/v3/orderList`` by ``orderListId`` or ``listClientOrderId``."""
    read_symbol(call.params, call.venue.market.series)
    order_list = _find_list(call, "listClientOrderId")
    venue = call.venue
    with venue.lock:
        live = [o for o in (order_list.orders if order_list else []) if o.is_open]
        if order_list is None or not live:
            raise unknown_order_list()
        venue.cancel(live[0])
        return order_list.to_json(reports=True)


def open_order_lists(call: Call) -> Any:
    """``GET /api/v3/openOrderList``."""
    with call.venue.lock:
        return [lst.to_json() for _, lst in sorted(call.venue.ledger.lists.items())
                if lst.status == "EXECUTING"]


def all_order_lists(call: Call) -> Any:
    """``GET /api/v3/allOrderList`` (newest ``limit``)."""
    limit = call.params.limit(default=500, maximum=1000)
    with call.venue.lock:
        return [lst.to_json() for _, lst in sorted(call.venue.ledger.lists.items())][-limit:]


def register(routes: Routes) -> None:
    """Add the signed endpoints to ``routes``."""
    for method, path, handler in (
        ("GET", "/api/v3/account", account),
        ("POST", "/api/v3/order", new_order),
        ("POST", "/api/v3/order/test", test_order),
        ("GET", "/api/v3/order", get_order),
        ("DELETE", "/api/v3/order", cancel_order),
        ("GET", "/api/v3/openOrders", open_orders),
        ("DELETE", "/api/v3/openOrders", cancel_all),
        ("GET", "/api/v3/allOrders", all_orders),
        ("GET", "/api/v3/myTrades", my_trades),
        ("POST", "/api/v3/orderList/oco", new_oco),
        ("POST", "/api/v3/order/oco", new_legacy_oco),
        ("GET", "/api/v3/orderList", get_order_list),
        ("DELETE", "/api/v3/orderList", cancel_order_list),
        ("GET", "/api/v3/openOrderList", open_order_lists),
        ("GET", "/api/v3/allOrderList", all_order_lists),
    ):
        routes.add(method, path, handler, signed=True)
