"""A subscriber's inbox of published feed slices: sequence numbers, gaps and duplicates (pure).

Each feed publishes one slice per session step with the step as its sequence number. A
subscriber offers every slice it receives to its :class:`FeedInbox`: a slice already taken or
already held is a duplicate (dropped, counted); one past the next expected number reveals a
gap (the numbers in between were lost, e.g. while the subscriber was being restarted), which
the subscriber fills by asking the feed to replay them. A step's bars are complete when every
feed's slice of that step is held. Memory is bounded: slices of steps already taken are
dropped, and at most ``capacity`` steps are held at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.trading.align import FeedSlice


class Offer(StrEnum):
    """What an offered slice was."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    GAP = "gap"
    """Accepted, but numbers between the last one seen and it are missing."""
    OVERFLOW = "overflow"
    """Dropped: ``capacity`` steps are held already (the subscriber replays it when needed)."""


@dataclass
class InboxStats:
    """Counters of an inbox (exposed by subscribers for tests and status)."""

    accepted: int = 0
    duplicates: int = 0
    gaps: int = 0
    overflows: int = 0


class FeedInbox:
    """Held slices per (step, symbol) for one subscriber.

    Args:
        symbols: The feeds' symbols, in column order.
        capacity: Most steps held at once.
    """

    def __init__(self, symbols: Sequence[str], capacity: int = 16) -> None:
        self.symbols = tuple(symbols)
        self.capacity = capacity
        self._held: dict[int, dict[str, FeedSlice]] = {}
        self._last_seen: dict[str, int] = {}
        self._taken = -1
        self.stats = InboxStats()

    def offer(self, part: FeedSlice) -> Offer:
        """Take in one published slice."""
        seq = part.seq
        held = self._held.get(seq, {})
        if seq <= self._taken or part.symbol in held:
            self.stats.duplicates += 1
            return Offer.DUPLICATE
        if seq not in self._held and len(self._held) >= self.capacity:
            self.stats.overflows += 1
            return Offer.OVERFLOW
        last = self._last_seen.get(part.symbol)
        verdict = Offer.GAP if last is not None and seq > last + 1 else Offer.ACCEPTED
        self._last_seen[part.symbol] = max(seq, last if last is not None else seq)
        self._held.setdefault(seq, {})[part.symbol] = part
        self.stats.accepted += 1
        if verdict is Offer.GAP:
            self.stats.gaps += 1
        return verdict

    def missing(self, seq: int) -> list[str]:
        """Symbols whose slice of step ``seq`` is not held (all of them once it was taken)."""
        held = self._held.get(seq, {})
        return [s for s in self.symbols if s not in held]

    def take(self, seq: int) -> list[FeedSlice] | None:
        """The slices of step ``seq`` in column order, or None while one is missing.

        Taking a step drops it and every earlier one; later steps stay held.
        """
        held = self._held.get(seq, {})
        if any(s not in held for s in self.symbols):
            return None
        for old in [k for k in self._held if k <= seq]:
            del self._held[old]
        self._taken = max(self._taken, seq)
        return [held[s] for s in self.symbols]

    def complete_steps(self) -> list[tuple[int, int, int]]:
        """``(seq, i0, i1)`` of every step whose slices are all held, in step order."""
        found = []
        for seq in sorted(self._held):
            held = self._held[seq]
            if all(s in held for s in self.symbols):
                first = held[self.symbols[0]]
                found.append((seq, first.i0, first.i1))
        return found

    def rewind(self, seq: int) -> None:
        """Accept step ``seq`` again (a retried step after the subscriber's state went back)."""
        self._taken = min(self._taken, seq - 1)

    @property
    def taken(self) -> int:
        """The last step taken (-1 before the first)."""
        return self._taken

    @property
    def held_steps(self) -> int:
        """Steps with at least one slice held."""
        return len(self._held)
