"""Warm-up of a restarted (or late-started) strategy from the feeds' history.

A strategy actor holds its bar history in memory only. When it receives step ``seq`` whose
first bar is not the next bar it knows (a cold start mid-session, i.e. a restart), it asks the
feeds for the bars it missed and replays them first — the same path a first start takes, just
longer — so its targets are exactly those it would have had without the restart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from actors.live.calls import ActorDirectory
from core.trading.align import align_batch
from core.trading.messages import MarketBatch

HISTORY_SEQ = -1
"""``seq`` of a warm-up batch (it is never a session step)."""


def fetch_history(feed_names: Sequence[str], namespace: str, timeline: np.ndarray,
                  start: int, stop: int, venue: str, timeframe_ms: int) -> MarketBatch:
    """The session's bars ``timeline[start:stop]`` from the feed actors, aligned.

    Args:
        feed_names: Ray names of the feeds, in symbol column order.
        namespace: Ray namespace.
        timeline: The session timeline.
        start: First index wanted.
        stop: One past the last index wanted.
        venue: Venue label.
        timeframe_ms: Bar length.
    """
    segment = timeline[start:stop]
    end = int(segment[-1]) + timeframe_ms
    directory = ActorDirectory(namespace, timeout_s=60.0)
    slices = directory.call_many([(name, "slice", (int(segment[0]), end), {})
                                  for name in feed_names])
    batch, _ = align_batch(HISTORY_SEQ, start, segment, slices, venue, timeframe_ms,
                           [None] * len(slices))
    return batch
