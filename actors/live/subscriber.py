"""The receiving end of published feeds, shared by every actor that needs a step's bars.

Feeds push each step's slice to their subscribers (:meth:`BarSubscriber.on_bars`, with the
feed's sequence number). When the actor runs step ``seq`` it asks :meth:`BarSubscriber.batch`
for the aligned bars: they are normally in the inbox already; a slice that was lost (the
subscriber was being restarted, a push failed) or that a retried step needs again is fetched
from the feed's bounded replay buffer, or recomputed by the feed. A step waits for a push only while
one can still come: a lost slice (see :meth:`core.trading.inbox.FeedInbox.lost`) is replayed
at once, so a subscriber that restarts behind its feeds catches up at the speed of replays.
Gaps and duplicates are counted.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from actors.live.calls import ActorDirectory
from core.trading.align import FeedSlice, align_batch
from core.trading.inbox import FeedInbox, InboxStats
from core.trading.messages import MarketBatch

PUSH_WAIT_S = 1.0
"""How long a step waits for a push before asking the feed to replay the slice."""
REPLAY_TIMEOUT_S = 60.0


class BarSubscriber:
    """Inbox + replay for one actor.

    Args:
        feed_names: Ray names of the feeds, in symbol column order.
        symbols: The symbols (same order).
        namespace: Ray namespace.
        timeline: The session timeline.
        venue: Venue label.
        timeframe_ms: Bar length.
        capacity: Most steps held at once.
        joined_late: Restored mid-session (see :class:`core.trading.inbox.FeedInbox`).
        start_after: Its first step is the one after (see the inbox).
    """

    def __init__(self, feed_names: Sequence[str], symbols: Sequence[str], namespace: str,
                 timeline: np.ndarray, venue: str, timeframe_ms: int, capacity: int = 16,
                 *, joined_late: bool = False, start_after: int = -1) -> None:
        self._feeds = dict(zip(symbols, feed_names, strict=True))
        self._timeline, self._venue, self._tf = timeline, venue, timeframe_ms
        self._inbox = FeedInbox(symbols, capacity, joined_late=joined_late,
                                start_after=start_after)
        self._ready = threading.Condition()
        self._directory = ActorDirectory(namespace, REPLAY_TIMEOUT_S)
        self.replays = 0

    @property
    def stats(self) -> InboxStats:
        """Accepted, duplicate, gap and overflow counts."""
        return self._inbox.stats

    def counts(self) -> dict[str, int]:
        """Pushes accepted, duplicates, gaps, overflows, and slices replayed from the feeds."""
        stats = self._inbox.stats
        return {"accepted": stats.accepted, "duplicates": stats.duplicates, "gaps": stats.gaps,
                "overflows": stats.overflows, "replays": self.replays}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's push; returns what it was (accepted, duplicate, gap, overflow)."""
        with self._ready:
            verdict = self._inbox.offer(part)
            self._ready.notify_all()
        return verdict.value

    def complete(self, seq: int) -> bool:
        """True when every feed's slice of step ``seq`` is held."""
        with self._ready:
            return seq > self._inbox.taken and not self._inbox.missing(seq)

    def held(self) -> list[tuple[int, int, int]]:
        """``(seq, i0, i1)`` of the complete steps held, in order."""
        with self._ready:
            return self._inbox.complete_steps()

    def batch(self, seq: int, i0: int, i1: int, wait_s: float = PUSH_WAIT_S
              ) -> tuple[MarketBatch, dict[str, str]]:
        """The aligned bars of step ``seq`` (timeline ``[i0, i1)``) and the stopped feeds."""
        segment = self._timeline[i0:i1]
        inbox = self._inbox
        with self._ready:
            retried = seq <= inbox.taken  # its slices were taken: replay at once
            if not retried:
                self._ready.wait_for(lambda: not inbox.missing(seq) or inbox.lost(seq),
                                     timeout=wait_s)
            slices = inbox.take(seq)
            missing = inbox.missing(seq) if slices is None else []
        if slices is None:
            replayed = self._directory.call_many(
                [(self._feeds[s], "replay", (seq, i0, i1), {}) for s in missing])
            self.replays += len(replayed)
            with self._ready:
                inbox.rewind(seq)
                inbox.fill(replayed, gap=not retried)
                slices = inbox.take(seq)
            if slices is None:
                raise RuntimeError(f"step {seq}: feeds {missing} replayed no usable slice")
        return align_batch(seq, i0, segment, slices, self._venue, self._tf,
                           [s.prev_close for s in slices])


@dataclass(frozen=True, slots=True, eq=False)
class BarSource:
    """What an actor needs to subscribe to the session's feeds (pickles into its factory).

    Attributes:
        feed_names: Ray names of the feeds, in symbol column order.
        symbols: The symbols.
        namespace: Ray namespace.
        timeline: The session timeline.
        venue: Venue label.
        timeframe_ms: Bar length.
    """

    feed_names: tuple[str, ...]
    symbols: tuple[str, ...]
    namespace: str
    timeline: np.ndarray
    venue: str
    timeframe_ms: int

    def subscriber(self, capacity: int = 16, *, joined_late: bool = False,
                   start_after: int = -1) -> BarSubscriber:
        """A fresh subscriber (each actor instance builds its own)."""
        return BarSubscriber(self.feed_names, self.symbols, self.namespace, self.timeline,
                             self.venue, self.timeframe_ms, capacity,
                             joined_late=joined_late, start_after=start_after)
