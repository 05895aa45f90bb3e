"""Reconciliation of a real venue account with the book built from its fills (pure).

The book (cash and positions from the executor's fills) and the venue (balances, open orders,
trades) must tell the same story. :func:`reconcile_venue` names every difference, in a fixed
order, each with a stable kind:

- ``cash``: the quote balance differs from the book's cash by more than the dust allowed;
- ``position``: a base asset's balance differs from the book's net position in that symbol by
  more than one lot step (a position opened behind our back, or an orphan);
- ``unknown_open_order``: an order open on the venue that this session did not send;
- ``missing_open_order``: an order of ours the book holds as working that the venue does not
  list as open (it may have filled or been cancelled behind our back);
- ``unseen_fill``: a trade on the venue for an order this session did not send.

Any difference is a reason to fail closed (no new order until an operator resolves it), unless
the configured policy adopts the venue's state (:mod:`core.trading.venue_adopt`); open orders
adopted as external are tolerated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.trading.venue_orders import VenueTrade
from core.trading.venue_rules import MarketRules

DIFFERENCE_KINDS = ("cash", "position", "unknown_open_order", "missing_open_order",
                    "unseen_fill")


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the venue and the book disagree.

    Attributes:
        kind: One of :data:`DIFFERENCE_KINDS`.
        subject: The asset, symbol or order concerned.
        venue: What the venue says.
        book: What the book says.
    """

    kind: str
    subject: str
    venue: str
    book: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: venue {self.venue}, book {self.book}"


def reconcile_venue(*, cash: float, positions: Mapping[str, float],
                    balances: Mapping[str, float], rules: Sequence[MarketRules],
                    venue_open: Sequence[tuple[str, str]], working: Sequence[tuple[str, str]],
                    unseen: Sequence[VenueTrade], dust_quote: float,
                    tolerated: Sequence[tuple[str, str]] = ()) -> list[Difference]:
    """Every difference between the venue and the book (empty: they agree).

    Args:
        cash: The book's quote cash.
        positions: The book's net position per symbol.
        balances: The venue's total (free + locked) balance per asset.
        rules: The traded markets (their base and quote assets and lot steps).
        venue_open: ``(symbol, venue client id)`` of every order open on the venue.
        working: ``(symbol, venue client id)`` of every order the book holds as working.
        unseen: Trades on the venue of orders this session did not send.
        dust_quote: Largest quote difference tolerated (fees rounding, interest dust).
        tolerated: Open orders adopted as external (:mod:`core.trading.venue_adopt`).
    """
    found: list[Difference] = []
    quote = rules[0].quote if rules else ""
    venue_cash = float(balances.get(quote, 0.0))
    if abs(venue_cash - cash) > dust_quote:
        found.append(Difference("cash", quote, f"{venue_cash:.8f}", f"{cash:.8f}"))
    for rule in rules:
        venue_qty = float(balances.get(rule.base, 0.0))
        book_qty = float(positions.get(rule.symbol, 0.0))
        if abs(venue_qty - book_qty) > max(rule.step_size, 1e-12):
            found.append(Difference("position", rule.symbol, f"{venue_qty:.8f}",
                                    f"{book_qty:.8f}"))
    ours = set(working) | set(tolerated)
    listed = set(venue_open)
    for symbol, venue_id in venue_open:
        if (symbol, venue_id) not in ours:
            found.append(Difference("unknown_open_order", f"{symbol} {venue_id}", "open",
                                    "not ours"))
    for symbol, venue_id in working:
        if (symbol, venue_id) not in listed:
            found.append(Difference("missing_open_order", f"{symbol} {venue_id}", "not open",
                                    "working"))
    for trade in unseen:
        found.append(Difference("unseen_fill", f"{trade.symbol} trade {trade.trade_id}",
                                f"{trade.side.value} {trade.quantity:g} @ {trade.price:g}",
                                "no such order"))
    return found
