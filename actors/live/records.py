"""Turn one step of a book into the store's :class:`BatchRecords`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from actors.adapters.session_store import BatchRecords
from core.trading.messages import DiaryEntry, RiskDecision, RiskEvent, client_order_id
from core.trading.slot import SlotOutput
from core.trading.trader import StepOutcome


def with_verdicts(diary: Sequence[DiaryEntry], decisions: Sequence[RiskDecision]
                  ) -> list[DiaryEntry]:
    """Diary entries completed with the order each decision caused and the risk verdict."""
    verdict = {d.client_order_id: ("approved" if d.approved else f"denied:{d.reason}")
               for d in decisions}
    completed = []
    for entry in diary:
        coid = client_order_id(entry.strategy_id, entry.symbol, "core", entry.ts)
        if coid in verdict:
            completed.append(dataclasses.replace(entry, client_order_id=coid,
                                                 verdict=verdict[coid]))
        else:
            completed.append(dataclasses.replace(
                entry, verdict="no order (target unchanged for the book)"))
    return completed


def book_records(book: str, outcome: StepOutcome, ts: np.ndarray, output: SlotOutput,
                 events: Sequence[RiskEvent]) -> BatchRecords:
    """Everything a book did in one step: the strategy's output, orders, fills, equity, risk.

    Args:
        book: ``"live"`` or ``"candidate:<name>"``.
        outcome: The trading loop's outcome.
        ts: The step's bar open times.
        output: The strategy's signals, diary and errors.
        events: The step's risk events (strategy errors, feed errors, the loop's, breakers).
    """
    return BatchRecords(book=book, signals=tuple(output.signals),
                        order_requests=outcome.requests, risk_decisions=outcome.decisions,
                        order_updates=outcome.order_updates, fills=outcome.fills,
                        portfolio=(outcome.portfolio,), equity_ts=ts, equity=outcome.equity,
                        risk_events=tuple(events),
                        diary=with_verdicts(output.diary, outcome.decisions))


def live_records(outcome: StepOutcome, ts: np.ndarray, output: SlotOutput,
                 events: Sequence[RiskEvent]) -> BatchRecords:
    """The live book's records (see :func:`book_records`)."""
    return book_records("live", outcome, ts, output, events)
