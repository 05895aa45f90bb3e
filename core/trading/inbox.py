"""A subscriber's inbox of published feed slices: sequence numbers, losses and duplicates (pure).

Each feed publishes one slice per session step with the step as its sequence number. A
subscriber offers every slice it receives to its :class:`FeedInbox`: a slice already taken or
already held is a duplicate (dropped, counted). A step's bars are complete when every feed's
slice of that step is held. Memory is bounded: slices of steps already taken are dropped, and
at most ``capacity`` steps are held at once (a later one is dropped as an overflow).

A missing slice that can no longer arrive by push is *lost* (:meth:`FeedInbox.lost`): it was
dropped as an overflow, its feed is ``capacity`` steps or more past it, or (for a subscriber
restored mid-session from its checkpoint) it was published before the first push that
subscriber received from the feed. The subscriber replays a lost slice at once instead of
waiting for a push; a slice merely behind a later one is not lost (pushes into a threaded
actor may run out of order, also the first ones of a session).
Replayed slices of a step that was never pushed are counted as gaps.
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
    AHEAD = "ahead"
    """Accepted, but numbers between the last one seen and it are missing (late or lost)."""
    OVERFLOW = "overflow"
    """Dropped: ``capacity`` steps are held already (the subscriber replays it when needed)."""


@dataclass
class InboxStats:
    """Counters of an inbox (exposed by subscribers for tests and status)."""

    accepted: int = 0
    duplicates: int = 0
    gaps: int = 0
    """Slices never pushed (lost or dropped) and replayed."""
    overflows: int = 0


class FeedInbox:
    """Held slices per (step, symbol) for one subscriber.

    Args:
        symbols: The feeds' symbols, in column order.
        capacity: Most steps held at once.
        joined_late: The subscriber was restored mid-session: until a feed's first push
            arrives, every slice missing from it is lost (it went to the predecessor).
        start_after: Steps up to this one are not its business (a subscriber that joins the
            session at step ``start_after + 1``): their slices are duplicates.
    """

    def __init__(self, symbols: Sequence[str], capacity: int = 16, *,
                 joined_late: bool = False, start_after: int = -1) -> None:
        self.symbols = tuple(symbols)
        self.capacity = capacity
        self.joined_late = joined_late
        self._held: dict[int, dict[str, FeedSlice]] = {}
        self._first_seen: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._dropped: dict[str, set[int]] = {s: set() for s in self.symbols}
        self._taken = start_after
        self.stats = InboxStats()

    def offer(self, part: FeedSlice) -> Offer:
        """Take in one published slice."""
        seq = part.seq
        held = self._held.get(seq, {})
        if seq <= self._taken or part.symbol in held:
            self.stats.duplicates += 1
            return Offer.DUPLICATE
        symbol = part.symbol
        last = self._last_seen.get(symbol)
        self._last_seen[symbol] = seq if last is None else max(seq, last)
        self._first_seen[symbol] = min(seq, self._first_seen.get(symbol, seq))
        if seq not in self._held and len(self._held) >= self.capacity:
            self.stats.overflows += 1
            self._dropped[symbol].add(seq)
            return Offer.OVERFLOW
        self._held.setdefault(seq, {})[symbol] = part
        self.stats.accepted += 1
        return Offer.AHEAD if last is not None and seq > last + 1 else Offer.ACCEPTED

    def fill(self, parts: Sequence[FeedSlice], *, gap: bool) -> None:
        """Hold replayed slices of the step about to be taken, whatever the capacity.

        The subscriber asked for them because it needs them now; a full inbox (steps held
        ahead of a subscriber that is catching up) must not drop them.

        Args:
            parts: The replayed slices.
            gap: They were never pushed (counted), as opposed to a retried step's again.
        """
        for part in parts:
            self._held.setdefault(part.seq, {})[part.symbol] = part
        if gap:
            self.stats.gaps += len(parts)

    def missing(self, seq: int) -> list[str]:
        """Symbols whose slice of step ``seq`` is not held (all of them once it was taken)."""
        held = self._held.get(seq, {})
        return [s for s in self.symbols if s not in held]

    def lost(self, seq: int) -> bool:
        """True when no slice missing from step ``seq`` can still arrive by push.

        Joined late, it was published before the first push this inbox got from its feed
        (or nothing came from that feed yet). It was dropped as an overflow, or the feed is
        ``capacity`` steps or more past it (no push is that late). A subscriber that started
        with the session waits for every push: its first pushes may arrive out of order.
        """
        return all((self.joined_late and seq < self._first_seen.get(s, seq + 1))
                   or seq in self._dropped[s]
                   or seq <= self._last_seen.get(s, -1) - self.capacity
                   for s in self.missing(seq))

    def take(self, seq: int) -> list[FeedSlice] | None:
        """The slices of step ``seq`` in column order, or None while one is missing.

        Taking a step drops it and every earlier one; later steps stay held.
        """
        held = self._held.get(seq, {})
        if any(s not in held for s in self.symbols):
            return None
        for old in [k for k in self._held if k <= seq]:
            del self._held[old]
        for dropped in self._dropped.values():
            dropped.difference_update([k for k in dropped if k <= seq])
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
