"""A subscriber that is behind replays what its feeds already published past, without waiting."""

from __future__ import annotations

import numpy as np
import pytest
import ray

from actors.live.feed import FeedService
from actors.live.shells import MarketFeed
from actors.live.subscriber import BarSubscriber

pytestmark = pytest.mark.usefixtures("ray_session")

SYMBOLS = ("BTC/USDT", "ETH/USDT")


@pytest.mark.timeout(120)
def test_steps_the_feeds_published_past_are_replayed_not_waited_for(shared_data):
    namespace = ray.get_runtime_context().namespace
    timeline = FeedService(str(shared_data), "BINANCE", SYMBOLS[0], "1h").info().timeline[:64]
    names = tuple(f"test-catch-up/feed-{n}" for n in range(len(SYMBOLS)))
    feeds = [MarketFeed.options(name=name, namespace=namespace).remote(
        str(shared_data), "BINANCE", symbol, "1h", session_id="test-catch-up",
        timeline=timeline, namespace=namespace)
        for name, symbol in zip(names, SYMBOLS, strict=True)]
    try:
        subscriber = BarSubscriber(names, SYMBOLS, namespace, timeline, "BINANCE", 3_600_000,
                                   capacity=4, joined_late=True)
        # A subscriber restored from its checkpoint whose feeds are already at step 40:
        # steps 10..39 will never be pushed to it, and steps 44.. overflowed its inbox.
        for seq in range(40, 50):
            for feed in feeds:
                subscriber.on_bars(ray.get(feed.replay.remote(seq, seq, seq + 1)))
        assert subscriber.counts()["overflows"] == 2 * 6
        # An hour per step would be waited for pushes that never come: the timeout fails it.
        for seq in (*range(10, 40), *range(40, 50)):
            batch, stopped = subscriber.batch(seq, seq, seq + 1, wait_s=3600.0)
            assert stopped == {} and batch.n_bars == 1
            assert batch.ts[0] == timeline[seq]
            closes = [ray.get(f.replay.remote(seq, seq, seq + 1)).close[0] for f in feeds]
            assert np.array_equal(batch.close[0], closes)
        counts = subscriber.counts()
        assert counts["replays"] == counts["gaps"] == 2 * (30 + 6), counts
    finally:
        for feed in feeds:
            ray.kill(feed, no_restart=True)
