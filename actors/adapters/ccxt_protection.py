"""Exchange-native protective orders through ccxt (Binance spot's order and OCO endpoints).

:class:`ProtectionDesk` carries out the plan of :class:`~core.trading.venue_protection.
VenueProtections` on the venue. ccxt 4.5.90 has no unified OCO call, so the desk uses ccxt's
implicit Binance API (signed like every other call, errors translated by the same caller):

- both levels: ``POST /api/v3/orderList/oco`` with a ``STOP_LOSS`` leg (a market order when
  triggered: the backtester's stop-loss) and a ``TAKE_PROFIT_LIMIT`` leg whose limit is its
  trigger (the backtester's take-profit), ``listClientOrderId`` and each leg's client id;
  looked up with ``GET /api/v3/orderList``, cancelled with ``DELETE /api/v3/orderList``;
- one level: ``POST /api/v3/order`` of that type, looked up and cancelled as an order.

A create without an answer is UNKNOWN and looked up by its client id, never resent; a
cancel the venue answers "unknown" means the protection is gone: its legs are read to learn
whether one traded (then its exit is announced through ``on_traded``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from actors.adapters.ccxt_calls import VenueCaller
from core.errors import (
    DuplicateOrderError,
    OrderNotFoundError,
    OrderRejectedError,
    PermanentExchangeError,
    TemporaryExchangeError,
)
from core.trading.messages import Side
from core.trading.venue_protection import (
    Cancel,
    Place,
    Protection,
    ProtectiveLeg,
    VenueProtections,
)
from core.trading.venue_rules import MarketRules

TradedLeg = Callable[[Protection, ProtectiveLeg, str, int], None]
"""``(protection, leg, venue order id, venue ms)``: a leg traded; announce its exit."""
CROSSED = "would_trigger_immediately"
"""Reason of the venue's refusal of a stop whose level the price has already passed."""


def _text(value: float) -> str:
    """A number as Binance wants it (plain decimal, no exponent)."""
    return format(Decimal(repr(float(value))).normalize(), "f")


def _leg_params(leg: ProtectiveLeg, prefix: str) -> dict[str, str]:
    """One leg's type and prices (``prefix``: "above"/"below" in a list, "" alone)."""
    def name(field: str) -> str:
        return f"{prefix}{field[0].upper()}{field[1:]}" if prefix else field

    level = _text(leg.level)
    if leg.kind == "stop_loss":
        return {name("type"): "STOP_LOSS", name("stopPrice"): level}
    return {name("type"): "TAKE_PROFIT_LIMIT", name("stopPrice"): level, name("price"): level,
            name("timeInForce"): "GTC"}


class ProtectionDesk:
    """Places, looks up and cancels protections (see the module doc).

    Args:
        exchange: The ccxt exchange (Binance's implicit API).
        caller: The client's caller (limits, retries, error translation).
        rules: The venue's rules of a symbol.
        book: The protections' pure book.
        clock_ms: The venue's time.
        on_traded: Called when a cancel or lookup shows a leg traded.
        on_crossed: Called when the venue refuses a protection because the price has
            already passed one of its levels (the client then exits at market: the stop
            done client-side, as the backtester would have stopped out in this bar).
        mark_price: The venue's mid price of a symbol now.
    """

    def __init__(self, exchange: Any, caller: VenueCaller, rules: Callable[[str], MarketRules],
                 book: VenueProtections, clock_ms: Callable[[], int], on_traded: TradedLeg,
                 on_crossed: Callable[[Protection], None],
                 mark_price: Callable[[str], float]) -> None:
        self._ex, self._caller, self._rules = exchange, caller, rules
        self.book, self._now, self._on_traded = book, clock_ms, on_traded
        self._on_crossed, self._mark = on_crossed, mark_price

    def run(self, actions: list[Cancel | Place], look_first: bool = False) -> None:
        """Carry out cancels and placements in order.

        Args:
            actions: The plan.
            look_first: Look each placement up by its client id before sending it (after a
                restart: the last life may have sent it just before it died).
        """
        for action in actions:
            if isinstance(action, Cancel):
                self.cancel(action.protection)
                continue
            if look_first:
                answer = self.lookup(action.protection)
                if answer == "no_answer":  # resolved by lookups, never by a blind resend
                    self.book.outcome_unknown(action.protection)
                if answer != "not_found":
                    continue
            self.place(action.protection)

    def resolve(self) -> None:
        """Look up every protection whose create has no answer yet."""
        for protection in self.book.protections():
            if protection.status == "unknown":
                self.lookup(protection)

    # --- calls -----------------------------------------------------------------------------

    def place(self, protection: Protection) -> None:
        """Send one protection's create (see the module doc)."""
        rules = self._rules(protection.symbol)
        params: dict[str, str] = {
            "symbol": rules.venue_symbol, "quantity": _text(protection.levels.quantity),
            "side": protection.levels.exit_side.value.upper(), "newOrderRespType": "FULL"}
        if protection.is_list:
            stop, take = protection.legs
            # a sell list protects a long: the take-profit above, the stop below
            above, below = ((take, stop) if protection.levels.exit_side is Side.SELL
                            else (stop, take))
            params.update({"listClientOrderId": protection.list_client_id,
                           "aboveClientOrderId": above.venue_client_id,
                           "belowClientOrderId": below.venue_client_id,
                           **_leg_params(above, "above"), **_leg_params(below, "below")})
            send = self._ex.private_post_orderlist_oco
        else:
            leg = protection.legs[0]
            params.update({"newClientOrderId": leg.venue_client_id, **_leg_params(leg, "")})
            send = self._ex.private_post_order
        try:
            answer = self._caller.call(f"protect {protection.symbol}", lambda: send(params),
                                       orders=len(protection.legs), retry=False)
        except DuplicateOrderError:
            self.lookup(protection)
        except OrderRejectedError as error:
            if error.reason == CROSSED:
                self._on_crossed(protection)
            else:
                self.book.rejected(protection, error.reason)
        except PermanentExchangeError as error:
            self.book.rejected(protection, getattr(error, "reason", "") or "venue_error")
        except TemporaryExchangeError:
            self.book.outcome_unknown(protection)
            self.lookup(protection)
        else:
            self.book.placed(protection, self._order_ids(answer))

    def lookup(self, protection: Protection) -> str:
        """One targeted query by client id; the book learns the answer.

        Returns:
            ``"found"``, ``"not_found"`` (the venue said so) or ``"no_answer"``.
        """
        try:
            if protection.is_list:
                answer = self._caller.call(
                    f"protection lookup {protection.symbol}",
                    lambda: self._ex.private_get_orderlist(
                        {"origClientOrderId": protection.list_client_id}), weight=4)
                done = str(answer.get("listOrderStatus", "")).upper() == "ALL_DONE"
            else:
                answer = self._fetch_leg(protection, protection.legs[0])
                done = str(answer.get("status", "")).upper() not in ("NEW", "PARTIALLY_FILLED")
        except OrderNotFoundError:
            self.book.not_found(protection, self._now())
            return "not_found"
        except TemporaryExchangeError:
            return "no_answer"  # not "not found": asked again later
        self.book.placed(protection, self._order_ids(answer))
        if done:
            self._finished(self.book.current(protection.symbol, protection.tag) or protection)
        return "found"

    def cancel(self, protection: Protection) -> None:
        """Cancel one protection; a protection the venue no longer has is read leg by leg."""
        rules = self._rules(protection.symbol)
        try:
            if protection.is_list:
                answer = self._caller.call(
                    f"protection cancel {protection.symbol}",
                    lambda: self._ex.private_delete_orderlist(
                        {"symbol": rules.venue_symbol,
                         "listClientOrderId": protection.list_client_id}))
                reports = list(answer.get("orderReports") or [])
            else:
                reports = [self._caller.call(
                    f"protection cancel {protection.symbol}",
                    lambda: self._ex.private_delete_order(
                        {"symbol": rules.venue_symbol,
                         "origClientOrderId": protection.legs[0].venue_client_id}))]
        except OrderNotFoundError:
            self._finished(protection)  # not open any more: did a leg trade?
            return
        except TemporaryExchangeError:
            return  # still canceling: tried again at the next plan
        if not self._traded(protection, reports):
            self.book.canceled(protection)

    def crossed_kind(self, protection: Protection) -> str:
        """Which level the price has passed: ``"stop_loss"`` or ``"take_profit"``.

        The venue's refusal does not say which leg it was; the book's mid price does.
        """
        if len(protection.legs) == 1:
            return protection.legs[0].kind
        mid = self._mark(protection.symbol)
        stop = next(leg.level for leg in protection.legs if leg.kind == "stop_loss")
        below = protection.levels.exit_side is Side.SELL
        return "stop_loss" if (mid <= stop if below else mid >= stop) else "take_profit"

    # --- answers ---------------------------------------------------------------------------

    def _fetch_leg(self, protection: Protection, leg: ProtectiveLeg) -> dict[str, Any]:
        rules = self._rules(protection.symbol)
        return dict(self._caller.call(
            f"protection leg {protection.symbol}",
            lambda: self._ex.private_get_order({"symbol": rules.venue_symbol,
                                                "origClientOrderId": leg.venue_client_id})))

    def _finished(self, protection: Protection) -> None:
        """A protection the venue no longer works: announce a traded leg, else it is done."""
        try:
            reports = [self._fetch_leg(protection, leg) for leg in protection.legs]
        except OrderNotFoundError:
            self.book.not_found(protection, self._now())
            return
        except TemporaryExchangeError:
            return
        current = self.book.current(protection.symbol, protection.tag) or protection
        self.book.placed(current, self._order_ids({"orderReports": reports}))
        current = self.book.current(protection.symbol, protection.tag) or protection
        if not self._traded(current, reports):
            self.book.canceled(current)

    def _traded(self, protection: Protection, reports: list[dict[str, Any]]) -> bool:
        """Announce the leg that traded according to ``reports``; whether one did."""
        for report in reports:
            executed = float(report.get("executedQty") or 0.0)
            client_id = str(report.get("origClientOrderId") or report.get("clientOrderId", ""))
            for leg in protection.legs:
                if executed > 0.0 and client_id == leg.venue_client_id:
                    ms = int(report.get("updateTime") or report.get("transactTime")
                             or report.get("time") or self._now())
                    self._on_traded(protection, leg, str(report.get("orderId", "")), ms)
                    return True
        return False

    @staticmethod
    def _order_ids(answer: dict[str, Any]) -> dict[str, str]:
        """Venue client id -> venue order id, from an order, list or list report."""
        found: dict[str, str] = {}
        items = list(answer.get("orderReports") or answer.get("orders") or [answer])
        for item in items:
            client_id = item.get("origClientOrderId") or item.get("clientOrderId")
            if client_id and item.get("orderId") is not None:
                found[str(client_id)] = str(item["orderId"])
        return found
