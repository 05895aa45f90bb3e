"""Order books read for PAPER fills, made durable before they are used.

A PAPER session that fills market orders by walking the venue's book
(:mod:`core.trading.book_walk`) reads the book once per order, at the decision. A restarted
executor replays the guardian's journal through the same code; reading the book again would
give another one and another fill. So each book is appended here (fsynced) before the order
that uses it is submitted, and a replay takes the book from here. A torn last line (a kill
while appending) is ignored: that exchange was never answered, and the guardian runs it
again, which reads a new book.
"""

from __future__ import annotations

import json
from pathlib import Path

from actors.adapters.files import append_line_durably
from core.trading.book_walk import BookSnapshot

BOOKS_FILE = "executor.books"


class BookLog:
    """Append-only, fsynced books by client order id.

    Args:
        state_dir: The session's state folder.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / BOOKS_FILE
        self._books: dict[str, BookSnapshot | None] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    body = json.loads(line)
                    book = None if body["symbol"] is None else BookSnapshot(
                        str(body["symbol"]), int(body["ts"]),
                        tuple((float(p), float(q)) for p, q in body["bids"]),
                        tuple((float(p), float(q)) for p, q in body["asks"]))
                except (ValueError, KeyError, TypeError):
                    continue
                self._books[str(body["coid"])] = book

    def __contains__(self, client_order_id: str) -> bool:
        return client_order_id in self._books

    def get(self, client_order_id: str) -> BookSnapshot | None:
        """The book recorded for an order (None: none, or it could not be read)."""
        return self._books.get(client_order_id)

    def append(self, client_order_id: str, book: BookSnapshot | None) -> None:
        """Record the book of an order, or that it could not be read (durable on return)."""
        body = ({"coid": client_order_id, "symbol": None} if book is None else
                {"coid": client_order_id, "symbol": book.symbol, "ts": book.ts,
                 "bids": book.bids, "asks": book.asks})
        append_line_durably(self.path, json.dumps(body))
        self._books[client_order_id] = book
