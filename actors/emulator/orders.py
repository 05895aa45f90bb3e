"""Orders, trades and order lists as the emulator books them, and their Binance JSON forms.

Quantities and prices are floats (the arithmetic of the backtester, so fills match it bit for
bit); what the client sent is kept as text to echo back exactly. Statuses are Binance's:
NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.emulator.params import fmt

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
LIMIT_PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
               "TAKE_PROFIT_LIMIT")
STP_MODE = "EXPIRE_MAKER"


@dataclass
class Reservation:
    """Balance locked for working orders (OCO legs share one).

    Attributes:
        asset: The locked asset.
        amount: Still locked.
        holders: Open orders drawing on it; the rest is released when the last one ends.
    """

    asset: str
    amount: float
    holders: int = 1


@dataclass
class Trade:
    """One fill, as ``myTrades`` reports it."""

    symbol: str
    id: int
    order_id: int
    order_list_id: int
    price: float
    qty: float
    commission: float
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    def to_json(self) -> dict[str, Any]:
        """Binance's ``myTrades`` row."""
        return {"symbol": self.symbol, "id": self.id, "orderId": self.order_id,
                "orderListId": self.order_list_id, "price": fmt(self.price),
                "qty": fmt(self.qty), "quoteQty": fmt(self.qty * self.price),
                "commission": fmt(self.commission), "commissionAsset": self.commission_asset,
                "time": self.time, "isBuyer": self.is_buyer, "isMaker": self.is_maker,
                "isBestMatch": True}

    def fill_json(self) -> dict[str, Any]:
        """An entry of a FULL order answer's ``fills``."""
        return {"price": fmt(self.price), "qty": fmt(self.qty),
                "commission": fmt(self.commission), "commissionAsset": self.commission_asset,
                "tradeId": self.id}


@dataclass
class Order:
    """An order on the emulated venue (mutable only under the venue's lock).

    Attributes:
        symbol: Binance market id.
        order_id: Venue id, increasing per symbol.
        client_order_id: The client's id (or one the venue generated).
        side: ``BUY`` or ``SELL``.
        type: Binance order type.
        time_in_force: ``GTC``/``IOC``/``FOK`` or None.
        qty: Ordered quantity.
        price: Limit price (None for market and plain stop orders).
        stop_price: Trigger price of stop orders.
        quote_qty: ``quoteOrderQty`` of a market order (None otherwise).
        time: Creation time (venue ms).
        status: Binance status.
        executed: Filled quantity.
        cum_quote: Sum of fill price * quantity.
        update_time: Last change (venue ms).
        working_time: When it started working (-1 for an untriggered stop).
        order_list_id: The order list it belongs to, -1 if none.
        placed_bar: Index of the forming bar when it was placed.
        rest_from: First bar index a resting order is matched against.
        due_bar: Bar at whose open a pending market quantity fills (None if none).
        triggered: Whether a stop order has triggered.
        first_fraction: Share of the quantity its first fill takes (partial_fill fault).
        reservation: Locked balance it draws on.
        trades: Its fills, in order.
    """

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    time_in_force: str | None
    qty: float
    price: float | None
    stop_price: float | None
    quote_qty: float | None
    time: int
    status: str = "NEW"
    executed: float = 0.0
    cum_quote: float = 0.0
    update_time: int = 0
    working_time: int = -1
    order_list_id: int = -1
    placed_bar: int = 0
    rest_from: int = 0
    due_bar: int | None = None
    triggered: bool = False
    first_fraction: float | None = None
    reservation: Reservation | None = None
    trades: list[Trade] = field(default_factory=list)

    @property
    def is_buy(self) -> bool:
        """Whether it buys."""
        return self.side == "BUY"

    @property
    def is_open(self) -> bool:
        """NEW or PARTIALLY_FILLED."""
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(self.qty - self.executed, 0.0)

    def _common(self) -> dict[str, Any]:
        return {"price": fmt(self.price or 0.0), "origQty": fmt(self.qty),
                "executedQty": fmt(self.executed), "origQuoteOrderQty": fmt(self.quote_qty or 0.0),
                "cummulativeQuoteQty": fmt(self.cum_quote), "status": self.status,
                "timeInForce": self.time_in_force or "GTC", "type": self.type,
                "side": self.side}

    def ack_json(self) -> dict[str, Any]:
        """The ACK answer to a new order."""
        return {"symbol": self.symbol, "orderId": self.order_id,
                "orderListId": self.order_list_id, "clientOrderId": self.client_order_id,
                "transactTime": self.time}

    def result_json(self, fills: list[Trade] | None = None) -> dict[str, Any]:
        """The RESULT answer (with ``fills`` it is the FULL answer)."""
        body = {**self.ack_json(), **self._common(), "workingTime": self.working_time,
                "selfTradePreventionMode": STP_MODE}
        if self.stop_price is not None:
            body["stopPrice"] = fmt(self.stop_price)
        if fills is not None:
            body["fills"] = [t.fill_json() for t in fills]
        return body

    def query_json(self) -> dict[str, Any]:
        """What ``GET /api/v3/order``, ``openOrders`` and ``allOrders`` return."""
        return {"symbol": self.symbol, "orderId": self.order_id,
                "orderListId": self.order_list_id, "clientOrderId": self.client_order_id,
                **self._common(), "stopPrice": fmt(self.stop_price or 0.0),
                "icebergQty": fmt(0.0), "time": self.time, "updateTime": self.update_time,
                "isWorking": self.working_time >= 0, "workingTime": self.working_time,
                "selfTradePreventionMode": STP_MODE}

    def cancel_json(self, cancel_client_id: str, now_ms: int) -> dict[str, Any]:
        """The answer to ``DELETE /api/v3/order``."""
        body = {"symbol": self.symbol, "origClientOrderId": self.client_order_id,
                "orderId": self.order_id, "orderListId": self.order_list_id,
                "clientOrderId": cancel_client_id, "transactTime": now_ms, **self._common(),
                "selfTradePreventionMode": STP_MODE}
        if self.stop_price is not None:
            body["stopPrice"] = fmt(self.stop_price)
        return body

    def ledger_json(self) -> dict[str, Any]:
        """The ledger's view: the query form plus the fills' trade ids."""
        return {**self.query_json(), "tradeIds": [t.id for t in self.trades]}


@dataclass
class OrderList:
    """An OCO order list.

    Attributes:
        symbol: Binance market id.
        order_list_id: Venue id.
        list_client_order_id: The client's id of the list.
        orders: Its legs (below leg first, as Binance lists them).
        time: Creation time (venue ms).
        status: ``EXECUTING`` or ``ALL_DONE``.
        status_type: ``EXEC_STARTED`` or ``ALL_DONE``.
    """

    symbol: str
    order_list_id: int
    list_client_order_id: str
    orders: list[Order]
    time: int
    status: str = "EXECUTING"
    status_type: str = "EXEC_STARTED"

    def refresh(self) -> None:
        """ALL_DONE once no leg is open."""
        if not any(o.is_open for o in self.orders):
            self.status, self.status_type = "ALL_DONE", "ALL_DONE"

    def to_json(self, reports: bool = False) -> dict[str, Any]:
        """Binance's order list object (with ``orderReports`` for a new or canceled list)."""
        body: dict[str, Any] = {
            "orderListId": self.order_list_id, "contingencyType": "OCO",
            "listStatusType": self.status_type, "listOrderStatus": self.status,
            "listClientOrderId": self.list_client_order_id, "transactionTime": self.time,
            "symbol": self.symbol,
            "orders": [{"symbol": o.symbol, "orderId": o.order_id,
                        "clientOrderId": o.client_order_id} for o in self.orders]}
        if reports:
            body["orderReports"] = [o.result_json() for o in self.orders]
        return body
