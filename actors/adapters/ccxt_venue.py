"""What a ccxt venue says, as the project's pure values: market rules, order reports, trades.

The translation is Binance-exact where Binance gives more than ccxt's unified fields: the
``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``PRICE_FILTER`` and ``NOTIONAL`` / ``MIN_NOTIONAL`` filters
of ``exchangeInfo`` (in the market's ``info``), the raw order ``status`` (ccxt folds
``PARTIALLY_FILLED`` into ``open``) and ``clientOrderId``. Other venues fall back to ccxt's
unified ``precision`` and ``limits``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.errors import PermanentExchangeError
from core.trading.messages import Side
from core.trading.venue_orders import VenueOrderReport, VenueTrade
from core.trading.venue_rules import MarketRules

_UNIFIED_STATUS = {"open": "NEW", "closed": "FILLED", "canceled": "CANCELED",
                   "expired": "EXPIRED", "rejected": "REJECTED"}


def _number(value: Any) -> float:
    try:
        return float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0


def _filters(market: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    info = market.get("info") or {}
    found = info.get("filters") if isinstance(info, dict) else None
    return {f.get("filterType", ""): f for f in (found or []) if isinstance(f, dict)}


def market_rules(market: Mapping[str, Any]) -> MarketRules:
    """The trading rules of one ccxt market (``exchange.markets[symbol]``)."""
    filters = _filters(market)
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    lot = filters.get("LOT_SIZE", {})
    market_lot = filters.get("MARKET_LOT_SIZE", {})
    price = filters.get("PRICE_FILTER", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    amount_limits = limits.get("amount") or {}
    cost_limits = limits.get("cost") or {}
    return MarketRules(
        symbol=str(market["symbol"]), venue_symbol=str(market.get("id", market["symbol"])),
        base=str(market.get("base", "")), quote=str(market.get("quote", "")),
        step_size=_number(lot.get("stepSize", precision.get("amount"))),
        min_quantity=_number(lot.get("minQty", amount_limits.get("min"))),
        max_quantity=_number(lot.get("maxQty", amount_limits.get("max"))),
        market_step_size=_number(market_lot.get("stepSize")),
        market_max_quantity=_number(market_lot.get("maxQty")),
        tick_size=_number(price.get("tickSize", precision.get("price"))),
        min_notional=_number(notional.get("minNotional", cost_limits.get("min"))),
        max_notional=_number(notional.get("maxNotional", cost_limits.get("max"))),
        min_notional_applies_to_market=bool(notional.get("applyMinToMarket", True)),
    )


def order_report(order: Mapping[str, Any], symbol: str, now_ms: int) -> VenueOrderReport:
    """A ccxt order (``create_order``, ``fetch_order``, ``cancel_order``) as a report.

    Raises:
        PermanentExchangeError: The answer names no client order id (not one of ours).
    """
    info = order.get("info") or {}
    # a cancel's answer names the order's id origClientOrderId (its clientOrderId is the
    # cancel request's own)
    client_id = (info.get("origClientOrderId") or order.get("clientOrderId")
                 or info.get("clientOrderId"))
    if not client_id:
        raise PermanentExchangeError(f"{symbol}: the venue's order answer has no client id")
    raw_status = info.get("status") or _UNIFIED_STATUS.get(str(order.get("status")), "NEW")
    filled = info.get("executedQty", order.get("filled"))
    ts = (order.get("lastUpdateTimestamp") or info.get("updateTime")
          or info.get("transactTime") or order.get("timestamp") or now_ms)
    return VenueOrderReport(str(client_id), str(order.get("id") or info.get("orderId", "")),
                            symbol, str(raw_status).upper(), _number(filled), int(ts))


FeeConverter = Callable[[str, float, float], float]
"""``(currency, amount, trade price) -> amount in the quote asset``."""


def fee_in_quote(trade: Mapping[str, Any], rules: MarketRules,
                 other: FeeConverter | None = None) -> float:
    """A trade's commission converted to the market's quote asset.

    Raises:
        PermanentExchangeError: A fee in a third currency and no converter for it.
    """
    fee = trade.get("fee") or {}
    cost = _number(fee.get("cost"))
    currency = str(fee.get("currency") or rules.quote)
    price = _number(trade.get("price"))
    if cost == 0.0 or currency == rules.quote:
        return cost
    if currency == rules.base:
        return cost * price
    if other is None:
        raise PermanentExchangeError(
            f"{rules.symbol}: a fee in {currency} cannot be converted to {rules.quote}")
    return other(currency, cost, price)


def venue_trade(trade: Mapping[str, Any], rules: MarketRules,
                other: FeeConverter | None = None) -> VenueTrade:
    """A ccxt trade of the account (``fetch_my_trades``) as the project's value."""
    info = trade.get("info") or {}
    side = Side.BUY if str(trade.get("side", "")).lower() == "buy" else Side.SELL
    maker = trade.get("takerOrMaker") == "maker" or bool(info.get("isMaker"))
    fee = trade.get("fee") or {}
    fee_base = _number(fee.get("cost")) if str(fee.get("currency") or "") == rules.base else 0.0
    return VenueTrade(
        trade_id=str(trade.get("id") or info.get("id")),
        venue_order_id=str(trade.get("order") or info.get("orderId", "")),
        symbol=rules.symbol, side=side, quantity=_number(trade.get("amount")),
        price=_number(trade.get("price")), fee_quote=fee_in_quote(trade, rules, other),
        maker=maker, ts=int(trade.get("timestamp") or info.get("time") or 0),
        fee_base=fee_base)


def answer_trades(answer: Mapping[str, Any], rules: MarketRules) -> list[VenueTrade]:
    """The trades in a create's ``FULL`` answer, with the venue's ids.

    Their order, side and time are the order's (ccxt leaves them empty there); trades without
    the venue's id are skipped (``fetch_my_trades`` brings them).
    """
    trades = []
    for trade in answer.get("trades") or []:
        if trade.get("id") is None:
            continue
        trade = {**trade, "order": trade.get("order") or answer.get("id"),
                 "side": trade.get("side") or answer.get("side"),
                 "timestamp": trade.get("timestamp") or answer.get("timestamp")}
        trades.append(venue_trade(trade, rules))
    return trades
