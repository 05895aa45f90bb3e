"""A paced step is armed ahead: the feed pushes the bars at their close, not before."""

from __future__ import annotations

import threading
import time

import pytest
import ray

from actors.live.feed import INLINE_BARS, FeedService
from actors.live.shells import MarketFeed

pytestmark = pytest.mark.usefixtures("ray_session")


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=2)
class _Sink:
    def __init__(self) -> None:
        self.received: list[tuple[int, int, float]] = []
        self._arrived = threading.Condition()

    def ping(self) -> str:
        return "ok"

    def on_bars(self, part) -> str:
        with self._arrived:
            self.received.append((part.seq, len(part.ts), time.time()))
            self._arrived.notify_all()
        return "accepted"

    def wait_for(self, count: int, timeout_s: float) -> list[tuple[int, int, float]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout_s)
            return list(self.received)


def test_an_armed_publish_pushes_at_the_close_and_a_plain_one_at_once(shared_data):
    namespace = ray.get_runtime_context().namespace
    timeline = FeedService(str(shared_data), "BINANCE", "BTC/USDT", "1h").info().timeline[:200]
    sink = _Sink.options(name="test-armed/sink", namespace=namespace).remote()
    feed = MarketFeed.options(name="test-armed/feed", namespace=namespace).remote(
        str(shared_data), "BINANCE", "BTC/USDT", "1h", session_id="test-armed",
        timeline=timeline, subscribers=("test-armed/sink",), namespace=namespace)
    try:
        assert ray.get(feed.connect.remote(), timeout=60) == 1
        due = time.time() + 0.6
        armed = feed.publish.remote(3, 3, 4, due)  # sent ahead, as a paced session does
        early = ray.get(sink.wait_for.remote(1, 0.3))
        assert early == []  # nothing before the close
        (seq, bars, received), = ray.get(sink.wait_for.remote(1, 30.0))
        assert (seq, bars) == (3, 1) and received >= due
        assert ray.get(armed) == 1
        assert ray.get(feed.publish.remote(4, 4, 5)) == 1  # not armed: pushed at once
        # a SIM batch (more bars than travel inline) goes through the object store
        assert ray.get(feed.publish.remote(5, 5, 6 + INLINE_BARS)) == 1
        records = ray.get(sink.wait_for.remote(3, 30.0))
        assert [(s, n) for s, n, _ in records[1:]] == [(4, 1), (5, INLINE_BARS + 1)]
    finally:
        ray.kill(feed, no_restart=True)
        ray.kill(sink, no_restart=True)
