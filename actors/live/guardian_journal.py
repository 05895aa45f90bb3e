"""The guardian's side of the write-ahead journal: writing a step, replaying one.

:class:`StepJournal` appends a step's :class:`~actors.live.wal_records.StepRecord` before
the step's last exchange leaves (or after the step when no exchange is flagged last).
:func:`replay_link` builds the :class:`~core.trading.replay.ReplayLink` that answers a
journaled step's exchanges from the record; only an unanswered last exchange of the last
record goes to the executor again (it answers idempotently).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from actors.adapters.journal import Journal
from actors.live.wal_records import StepRecord
from core.trading.execution import Exchange, VenueLink
from core.trading.replay import ExchangeRequest, RecordingLink, ReplayLink
from core.trading.slot import SlotOutput


class StepJournal:
    """Writes a step's record before the step's last exchange (or after the step).

    Hooked into the step's :class:`RecordingLink` (``before_send``).

    Args:
        journal: The write-ahead journal.
        prev_tail: Reply of the previous record's unanswered last exchange.
        seq: The step.
        i0: Timeline index of its first bar.
        i1: Timeline index after its last bar.
        output: The strategy's output for the step.
        stopped: Feeds found stopped at this step.
        kill: Kill switch source applied at the step's start ("" = none).
        link: The step's recording link.
    """

    def __init__(self, journal: Journal, prev_tail: Exchange | None, seq: int, i0: int,
                 i1: int, output: SlotOutput, stopped: Sequence[tuple[str, str]], kill: str,
                 link: RecordingLink) -> None:
        self.journal, self.prev_tail = journal, prev_tail
        self.seq, self.i0, self.i1 = seq, i0, i1
        self.output, self.stopped, self.kill, self.link = output, tuple(stopped), kill, link
        self.tail = False
        self.journal_ms = 0.0

    def __call__(self, request: ExchangeRequest, last: bool) -> None:
        """Before an exchange is sent: the step's last one is journaled first."""
        if last:
            self._write(tail=True)

    def _write(self, tail: bool) -> None:
        started = time.perf_counter()
        link = self.link
        replies = tuple(link.replies)
        record = StepRecord(self.seq, self.i0, self.i1, tuple(self.output.signals),
                            tuple(self.output.diary), tuple(self.output.errors),
                            self.stopped, self.kill, tuple(link.requests), replies,
                            link.last_preview if tail else (), self.prev_tail)
        self.journal.append(record.seq, record)
        self.tail = tail
        self.journal_ms += (time.perf_counter() - started) * 1e3

    def finish(self) -> None:
        """After the step: journal it now if no last exchange was flagged."""
        if not self.tail:
            self._write(tail=False)

    def tail_reply(self) -> Exchange | None:
        """The reply of the exchange sent after the record (the next record keeps it)."""
        return self.link.replies[-1] if self.tail else None


def replay_link(records: Sequence[StepRecord], k: int,
                resend: Callable[[StepRecord, int], VenueLink]) -> ReplayLink:
    """The link answering record ``k``'s exchanges.

    An unanswered last exchange is answered by the next record's ``prev_tail``, or, for the
    last record, sent to the executor again through ``resend(record, first_op)`` (the
    guardian: an :class:`ExecutorLink` over its channel).
    """
    record = records[k]
    replies = list(record.replies)
    live: VenueLink | None = None
    if record.has_tail:
        following = records[k + 1] if k + 1 < len(records) else None
        if following is not None and following.prev_tail is not None:
            replies.append(following.prev_tail)
        else:
            live = resend(record, len(replies))
    return ReplayLink(record.requests, replies, record.tail_preview, live)


def tail_reply(record: StepRecord, link: ReplayLink) -> Exchange | None:
    """The reply of the record's unanswered last exchange, after the replay (None: none)."""
    if not record.has_tail:
        return None
    if link.live_replies:
        return link.live_replies[-1]
    return link.recorded_reply(len(record.requests) - 1)
