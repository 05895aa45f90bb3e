"""Market orders filled by walking a venue's order book (pure).

The backtester fills a market order at the next bar's open moved by a slippage model.
freqtrade's users found next-price fills too optimistic in dry runs; its dry run fills at the
order book's prices instead. A PAPER session can do the same (``[exchange] paper_fills =
"order_book"``): when the guardian's approved order reaches the executor at the decision's
close, the venue's live book is read (:class:`BookSnapshot`) and the order later fills at
the volume-weighted price of walking it (:func:`walk_price`), sized at the book's mid.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.trading.messages import Side


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A venue's order book for one symbol at one moment.

    Attributes:
        symbol: Unified symbol.
        ts: Venue time it was read (ms).
        bids: ``(price, quantity)`` best first (descending prices).
        asks: ``(price, quantity)`` best first (ascending prices).
    """

    symbol: str
    ts: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]

    @property
    def mid(self) -> float:
        """Mid of the best bid and ask (the one side present; 0 for an empty book)."""
        best = [side[0][0] for side in (self.bids, self.asks) if side]
        return sum(best) / len(best) if best else 0.0


def walk_price(book: BookSnapshot, side: Side, quantity: float) -> float | None:
    """The volume-weighted price of taking ``quantity`` from ``book``.

    A buy takes the asks, a sell the bids, best first. What the book does not hold fills at
    its last (worst) level's price. None when that side of the book is empty.
    """
    levels = book.asks if side is Side.BUY else book.bids
    if not levels or quantity <= 0.0:
        return None
    left, cost = float(quantity), 0.0
    for price, size in levels:
        take = min(left, float(size))
        cost += take * float(price)
        left -= take
        if left <= 0.0:
            break
    if left > 0.0:
        cost += left * float(levels[-1][0])
    return cost / float(quantity)
