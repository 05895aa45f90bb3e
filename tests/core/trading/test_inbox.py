"""A subscriber's inbox: sequence numbers reveal losses and duplicates; memory stays bounded."""

from __future__ import annotations

import numpy as np

from core.trading.align import FeedSlice
from core.trading.inbox import FeedInbox, Offer


def part(symbol: str, seq: int) -> FeedSlice:
    ts = np.array([seq * 10, seq * 10 + 1])
    ones = np.ones(2)
    return FeedSlice(symbol, ts, ones, ones, ones, ones, ones, seq=seq)


def test_a_step_is_complete_when_every_feed_published_it():
    inbox = FeedInbox(("A", "B"))
    assert inbox.offer(part("B", 0)) is Offer.ACCEPTED
    assert inbox.take(0) is None and inbox.missing(0) == ["A"]
    assert inbox.offer(part("A", 0)) is Offer.ACCEPTED
    taken = inbox.take(0)
    assert [p.symbol for p in taken] == ["A", "B"] and inbox.taken == 0
    assert inbox.held_steps == 0


def test_duplicates_are_dropped_and_replayed_losses_counted_as_gaps():
    inbox = FeedInbox(("A",))
    inbox.offer(part("A", 0))
    assert inbox.offer(part("A", 0)) is Offer.DUPLICATE  # held twice
    inbox.take(0)
    assert inbox.offer(part("A", 0)) is Offer.DUPLICATE  # already taken
    assert inbox.offer(part("A", 3)) is Offer.AHEAD  # 1 and 2 are late or lost
    assert inbox.take(1) is None and inbox.missing(1) == ["A"]
    assert inbox.offer(part("A", 1)) is Offer.ACCEPTED  # it was late
    assert inbox.take(1) is not None
    inbox.fill([part("A", 2)], gap=True)  # this one was lost: replayed
    assert inbox.take(2) is not None
    assert inbox.stats.duplicates == 2 and inbox.stats.gaps == 1 and inbox.stats.accepted == 3


def test_a_retried_step_is_accepted_again_after_a_rewind():
    inbox = FeedInbox(("A",))
    inbox.offer(part("A", 0))
    inbox.take(0)
    inbox.rewind(0)
    assert inbox.offer(part("A", 0)) is Offer.ACCEPTED and inbox.take(0) is not None


def test_memory_is_bounded_by_capacity():
    inbox = FeedInbox(("A",), capacity=4)
    for seq in range(100):
        inbox.offer(part("A", seq))
    assert inbox.held_steps == 4 and inbox.stats.overflows == 96
    assert inbox.take(3) is not None and inbox.held_steps == 0


def test_a_fresh_subscriber_accepts_a_late_step_and_a_replay_of_it():
    inbox = FeedInbox(("A", "B"), capacity=4)  # restarted mid-session: nothing taken yet
    assert inbox.offer(part("A", 40)) is Offer.ACCEPTED
    assert inbox.take(40) is None and inbox.missing(40) == ["B"]
    assert inbox.offer(part("B", 40)) is Offer.ACCEPTED  # replayed
    assert inbox.take(40) is not None


def test_a_slice_is_lost_for_sure_before_the_first_push_dropped_or_far_behind_the_feed():
    cold = FeedInbox(("A",), capacity=4)
    cold.offer(part("A", 1))  # a cold start: step 0's push may arrive after step 1's
    assert not cold.lost(0)
    inbox = FeedInbox(("A",), capacity=4, joined_late=True)
    inbox.offer(part("A", 40))  # a subscriber restored while its feed was at step 40
    assert inbox.lost(39)  # pushed to its predecessor, if at all
    inbox.offer(part("A", 42))
    assert not inbox.lost(41)  # may be a push run out of order
    for seq in range(43, 47):
        inbox.offer(part("A", seq))  # 43 and 44 held, 45 and 46 dropped
    assert inbox.lost(45) and inbox.lost(46) and not inbox.lost(47)
    assert inbox.lost(41)  # the feed is capacity steps past it
    inbox.take(44)
    assert inbox.offer(part("A", 45)) is Offer.ACCEPTED and inbox.take(45) is not None
    assert inbox.lost(46)  # still dropped: replayed when needed


def test_replayed_slices_are_held_even_when_the_inbox_is_full():
    inbox = FeedInbox(("A",), capacity=2)
    inbox.offer(part("A", 8))
    inbox.offer(part("A", 9))
    assert inbox.offer(part("A", 3)) is Offer.OVERFLOW  # a push: dropped
    inbox.fill([part("A", 3)], gap=True)  # a replay asked for now: held
    assert [p.seq for p in inbox.take(3)] == [3]
    assert inbox.take(8) is not None  # the later steps are still there


def test_a_restored_subscriber_treats_slices_as_lost_until_the_first_push():
    inbox = FeedInbox(("A", "B"), joined_late=True)
    assert inbox.lost(7)  # pushed to its predecessor: nothing will come
    inbox.offer(part("A", 9))
    assert inbox.lost(8)  # before A's first push, and B has pushed nothing to it yet
    assert inbox.missing(9) == ["B"] and inbox.lost(9)
    inbox.offer(part("B", 10))
    assert inbox.lost(9) and not inbox.lost(11)  # both feeds push to it now
    assert not FeedInbox(("A",)).lost(0)  # a cold start waits for its first push
