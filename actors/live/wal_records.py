"""What the guardian journals per step (typed records of the write-ahead journal).

A :class:`StepRecord` holds everything needed to run the step again without the venue and
without the strategy: its bars' range (the feeds serve them again), the active strategy's
output, the inputs the guardian applied before the loop (stopped feeds, kill switch), and the
exchanges with the executor with their replies. The record is appended before the step's
last exchange leaves (that exchange's reply is then in the next record, ``prev_tail``, or is
asked again of the executor, which answers it idempotently).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.trading.execution import Exchange, ExecutionEvent
from core.trading.messages import DiaryEntry, Signal
from core.trading.replay import ExchangeRequest


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One journaled step of the live book.

    Attributes:
        seq: Step number.
        i0: Timeline index of its first bar.
        i1: Timeline index after its last bar.
        signals: The active strategy's signals.
        diary: The strategy's diary entries.
        errors: Strategy errors of the step.
        stopped: ``(symbol, reason)`` of feeds found stopped at this step.
        kill_switch: Source of a kill switch applied at the step's start ("" = none).
        requests: Every exchange of the step, in order (the last one may be unanswered).
        replies: Replies of the answered exchanges (without previews).
        tail_preview: Preview of the last answered exchange when the last exchange is not
            answered in this record.
        prev_tail: Reply of the previous record's unanswered last exchange.
    """

    seq: int
    i0: int
    i1: int
    signals: tuple[Signal, ...]
    diary: tuple[DiaryEntry, ...]
    errors: tuple[str, ...]
    stopped: tuple[tuple[str, str], ...]
    kill_switch: str
    requests: tuple[ExchangeRequest, ...]
    replies: tuple[Exchange, ...]
    tail_preview: tuple[ExecutionEvent, ...] = ()
    prev_tail: Exchange | None = None

    @property
    def has_tail(self) -> bool:
        """True when the last exchange's reply is not in this record."""
        return len(self.replies) < len(self.requests)
