"""OCO order lists: ``POST /api/v3/orderList/oco`` and the older ``POST /api/v3/order/oco``.

ccxt 4.5.90 has no unified OCO call; clients reach these endpoints through ccxt's implicit
API (``privatePostOrderListOco``). Legs follow Binance's rules: a SELL list has a
LIMIT_MAKER / TAKE_PROFIT(_LIMIT) leg above the price and a STOP_LOSS(_LIMIT) leg below it;
a BUY list the mirror image. When one leg triggers or fills the other EXPIRES; canceling
either cancels both. Both legs draw on one reservation (the quantity for a SELL).
"""

from __future__ import annotations

from actors.emulator.errors import BinanceError, invalid_order_type
from actors.emulator.order_entry import NewOrder, read_new_order
from actors.emulator.params import Params

_TAKE = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_STOP = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_LEGACY_KEYS = ("symbol", "side", "quantity", "listClientOrderId", "newOrderRespType",
                "recvWindow", "timestamp", "signature")


def read_oco(params: Params, series_of: dict, specs: dict) -> tuple[list[NewOrder], str | None]:
    """The two legs (below first) and the list's client id of an ``orderList/oco`` request.

    Raises:
        BinanceError: For a bad leg (the single-order codes) or a wrong leg type (-1116).
    """
    below = read_new_order(params, series_of, specs, prefix="below")
    above = read_new_order(params, series_of, specs, prefix="above")
    sell = below.side == "SELL"
    above_ok, below_ok = (_TAKE, _STOP) if sell else (_STOP, _TAKE)
    if above.type not in above_ok or below.type not in below_ok:
        raise invalid_order_type()
    if above.qty is None:
        raise BinanceError(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, "
                                  "or malformed.")
    for leg in (below, above):
        level = leg.stop_price if leg.stop_price is not None else leg.price
        other = above if leg is below else below
        other_level = other.stop_price if other.stop_price is not None else other.price
        if level is not None and other_level is not None and leg is below and \
                level >= other_level:
            raise BinanceError(-2010, "The relationship of the prices for the orders is not "
                                      "correct.")
    return [below, above], params.client_id("listClientOrderId")


def legacy_params(params: Params) -> Params:
    """``order/oco`` parameters (price, stopPrice, stopLimitPrice, ...) as ``orderList/oco``.

    Raises:
        BinanceError: -1102 for a missing ``price`` or ``stopPrice``.
    """
    raw = params.as_dict()
    side = params.text("side")
    limit_leg = {"Type": "LIMIT_MAKER", "Price": params.text("price"),
                 "ClientOrderId": raw.get("limitClientOrderId", "")}
    stop_leg = {"Type": "STOP_LOSS", "StopPrice": params.text("stopPrice"),
                "ClientOrderId": raw.get("stopClientOrderId", "")}
    if params.has("stopLimitPrice"):
        stop_leg.update({"Type": "STOP_LOSS_LIMIT", "Price": raw["stopLimitPrice"],
                         "TimeInForce": raw.get("stopLimitTimeInForce") or "GTC"})
    above, below = (limit_leg, stop_leg) if side == "SELL" else (stop_leg, limit_leg)
    merged = {key: raw[key] for key in _LEGACY_KEYS if key in raw}
    merged.update({f"above{k}": v for k, v in above.items() if v})
    merged.update({f"below{k}": v for k, v in below.items() if v})
    return Params(merged)
