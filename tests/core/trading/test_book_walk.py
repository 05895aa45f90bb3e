"""PAPER market orders filled by walking a venue's order book (freqtrade's dry-run fills)."""

from __future__ import annotations

import pytest

from core.trading.book_walk import BookSnapshot, walk_price
from core.trading.messages import Fill, OrderStatus, OrderUpdate, Side
from core.trading.paper import PaperClient
from tests.core.trading.sim_helpers import BTC, HOUR
from tests.core.trading.test_paper import GOLD, TAKER, golden, request

BOOK = BookSnapshot(BTC, 0, bids=((99.0, 10.0), (98.0, 10.0)),
                    asks=((101.0, 10.0), (102.0, 20.0), (103.0, 5.0)))


def test_a_walk_takes_the_best_levels_first_and_the_rest_at_the_worst() -> None:
    assert BOOK.mid == 100.0
    assert walk_price(BOOK, Side.BUY, 5.0) == 101.0
    assert walk_price(BOOK, Side.BUY, 20.0) == pytest.approx((10 * 101 + 10 * 102) / 20)
    assert walk_price(BOOK, Side.BUY, 40.0) == pytest.approx(
        (10 * 101 + 20 * 102 + 5 * 103 + 5 * 103) / 40)  # deeper than the book
    assert walk_price(BOOK, Side.SELL, 15.0) == pytest.approx((10 * 99 + 5 * 98) / 15)
    assert walk_price(BookSnapshot(BTC, 0, (), ()), Side.BUY, 1.0) is None


def test_a_quoted_order_fills_at_its_walk_sized_at_the_books_mid() -> None:
    client, batch = golden()
    order = request("a", 1.0, 2_000.0)
    client.submit([order])
    client.quote_books({"a": BOOK})
    client.advance(batch, 1)
    qty = 2_000.0 / 100.0  # sized at the mid when the book was read
    price = walk_price(BOOK, Side.BUY, qty)
    fill, done = client.events_since(1).events
    assert fill == Fill("a", "s", BTC, "core", HOUR, Side.BUY, qty, price, qty * price * TAKER,
                        qty * abs(price - 100.0), "taker", "signal")
    assert done == OrderUpdate("a", HOUR, OrderStatus.FILLED, qty, "order_book")


def test_the_book_survives_a_snapshot_and_a_preview_does_not_consume_it() -> None:
    client, batch = golden()
    client.submit([request("a", 1.0, 2_000.0)])
    client.quote_books({"a": BOOK})
    client.preview(batch, 1)  # a throwaway fork fills it
    restored = PaperClient.from_state(client.state)
    restored.advance(batch, 1)
    fill = next(e for e in restored.events_since(1).events if isinstance(e, Fill))
    assert fill.price == walk_price(BOOK, Side.BUY, 20.0)


def test_without_a_book_the_model_fills_as_before() -> None:
    client, batch = golden()
    client.submit([request("a", 1.0, 2_000.0)])
    client.quote_books({"other": BOOK})
    client.advance(batch, 1)
    fill = next(e for e in client.events_since(1).events if isinstance(e, Fill))
    assert fill.price == pytest.approx(102.0 * (1.0 + 5e-4))  # the next open plus half-spread
    assert GOLD.costs.half_spread_bps == 5.0
