"""Adopting a venue's state into the book: the ``adopt`` reconciliation policy (pure).

Reconciliation (:mod:`core.trading.venue_reconcile`) names every difference between a venue
account and the book built from the session's fills. Under the ``halt`` policy any difference
stops new orders until an operator resolves it; under ``adopt`` (or ``reconcile --adopt``)
the venue is taken as the truth for what can be explained, and each adoption is an event the
guardian books like any other, tagged ``external``:

- a trade of an order the session did not send becomes an *external* order with its fill (the
  trade's own quantity, price and fee), with ids that are pure functions of the venue's trade
  id, so adopting it again after a restart produces the same events and no duplicate;
- a base-asset balance the fills still do not explain becomes an external position at the
  symbol's mark, with a :class:`~core.trading.messages.CashAdjustment` of the same notional
  (the venue did not pay for it with the book's cash);
- quote cash the rest does not explain is a cash adjustment (a deposit or a withdrawal);
- open orders the session did not send are tolerated as external (named, never touched);
  their trades are adopted as they come.

An order of ours that the book holds as working and the venue does not list cannot be
explained by the venue's state: it stays a difference (and halts), whatever the policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.trading.execution import ExecutionEvent
from core.trading.messages import (
    CashAdjustment,
    Fill,
    OrderRequest,
    OrderStatus,
    Side,
)
from core.trading.orders import Order
from core.trading.venue_ids import synthetic_id
from core.trading.venue_orders import VenueTrade
from core.trading.venue_rules import MarketRules

EXTERNAL = "external"
"""Tag, strategy id, order kind and fill reason of what reconciliation adopts."""


@dataclass(frozen=True, slots=True)
class Adoption:
    """What adopting the venue's state books.

    Attributes:
        events: Events for the book, in order (orders announced before their updates).
        external_open: ``(symbol, venue client id)`` of open orders tolerated as external.
        trades: ``(symbol, trade id)`` of the foreign trades adopted.
        adopted: One line per adoption, for the record.
    """

    events: tuple[ExecutionEvent, ...]
    external_open: tuple[tuple[str, str], ...]
    trades: tuple[tuple[str, str], ...]
    adopted: tuple[str, ...]


def _external_fill(coid: str, symbol: str, side: Side, quantity: float, price: float,
                   fee: float, maker: bool, ts: int) -> list[ExecutionEvent]:
    """An external order and its one fill: request, ACCEPTED, fill, FILLED."""
    request = OrderRequest(coid, EXTERNAL, symbol, EXTERNAL, ts, side, quantity, price, 0.0,
                           0.0, False, kind=EXTERNAL)
    order, accepted = Order(request).transition(OrderStatus.ACCEPTED, ts)
    _, filled = order.transition(OrderStatus.FILLED, ts, filled_quantity=quantity)
    fill = Fill(coid, EXTERNAL, symbol, EXTERNAL, ts, side, quantity, price, fee, 0.0,
                "maker" if maker else "taker", EXTERNAL)
    return [request, accepted, fill, filled]


def adopt_venue(*, venue: str, ts: int, cash: float, positions: Mapping[str, float],
                balances: Mapping[str, float], rules: Sequence[MarketRules],
                unseen: Sequence[VenueTrade], unknown_open: Sequence[tuple[str, str]],
                marks: Mapping[str, float], dust_quote: float) -> Adoption:
    """The events that bring the book to the venue's balances (see the module doc).

    Args:
        venue: The venue's id (salts the synthetic ids).
        ts: Open time of the bar the adoption is booked at.
        cash: The book's quote cash.
        positions: The book's net position per symbol.
        balances: The venue's total balance per asset.
        rules: The traded markets.
        unseen: Trades of orders the session did not send.
        unknown_open: ``(symbol, venue client id)`` of open orders the session did not send.
        marks: A price per symbol for positions adopted at their mark (missing: not adopted).
        dust_quote: Cash difference left alone.
    """
    events: list[ExecutionEvent] = []
    adopted: list[str] = []
    book_cash = float(cash)
    held = {symbol: float(qty) for symbol, qty in positions.items()}
    for trade in unseen:
        coid = synthetic_id("fill", venue, trade.symbol, trade.trade_id)
        events += _external_fill(coid, trade.symbol, trade.side, trade.held_quantity,
                                 trade.price, trade.fee_quote, trade.maker, ts)
        dq = trade.held_quantity if trade.side is Side.BUY else -trade.held_quantity
        held[trade.symbol] = held.get(trade.symbol, 0.0) + dq
        book_cash -= dq * trade.price + trade.fee_quote
        adopted.append(f"external trade {trade.symbol} {trade.trade_id}: "
                       f"{trade.side.value} {trade.quantity:g} @ {trade.price:g}")
    for rule in rules:
        residual = float(balances.get(rule.base, 0.0)) - held.get(rule.symbol, 0.0)
        mark = marks.get(rule.symbol)
        if abs(residual) <= max(rule.step_size, 1e-12) or not mark:
            continue
        side = Side.BUY if residual > 0.0 else Side.SELL
        coid = synthetic_id("position", venue, rule.symbol, ts, f"{residual:.12g}")
        events += _external_fill(coid, rule.symbol, side, abs(residual), mark, 0.0, False, ts)
        detail = f"{rule.symbol} {residual:+.8f} {rule.base} at mark {mark:g}"
        events.append(CashAdjustment(ts, residual * mark, "external_position", detail))
        adopted.append(f"external position {detail}")
    quote = rules[0].quote if rules else ""
    residual_cash = float(balances.get(quote, 0.0)) - book_cash
    if abs(residual_cash) > dust_quote:
        detail = f"{quote} {residual_cash:+.8f} not explained by any order"
        events.append(CashAdjustment(ts, residual_cash, "external_cash", detail))
        adopted.append(f"external cash {detail}")
    for symbol, venue_id in unknown_open:
        adopted.append(f"external open order {symbol} {venue_id}")
    return Adoption(tuple(events), tuple(unknown_open),
                    tuple((t.symbol, t.trade_id) for t in unseen), tuple(adopted))
