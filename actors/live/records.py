"""Turn one step's reports into the store's :class:`BatchRecords` (one per book)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from actors.adapters.session_store import BatchRecords, LatencySample
from actors.live.candidate import CandidateReport
from actors.live.guardian import GuardianReport
from core.trading.messages import (
    DiaryEntry,
    RiskDecision,
    RiskEvent,
    Signal,
    client_order_id,
)
from core.trading.walk import BatchOutcome


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


def _book_records(book: str, outcome: BatchOutcome, ts: Sequence[int],
                  signals: Sequence[Signal], diary: Sequence[DiaryEntry],
                  events: Sequence[RiskEvent], decisions: Sequence[RiskDecision],
                  latencies: Sequence[LatencySample] = ()) -> BatchRecords:
    return BatchRecords(book=book, signals=tuple(signals), order_requests=outcome.requests,
                        risk_decisions=tuple(decisions), order_updates=outcome.order_updates,
                        fills=outcome.fills, portfolio=(outcome.portfolio,),
                        equity_ts=ts, equity=outcome.equity, risk_events=tuple(events),
                        diary=with_verdicts(diary, decisions), latencies=tuple(latencies))


def live_records(report: GuardianReport, ts: Sequence[int], signals: Sequence[Signal],
                 diary: Sequence[DiaryEntry], extra_events: Sequence[RiskEvent],
                 latencies: dict[str, float]) -> BatchRecords:
    """The live book's records: the executor's fills, the guardian's verdicts and events."""
    samples = [LatencySample(stage, ms) for stage, ms in sorted(latencies.items())]
    records = _book_records("live", report.execution.outcome, ts, signals, diary,
                            (*extra_events, *report.risk_events), report.decisions, samples)
    if report.execution.out_of_band:
        records = dataclasses.replace(records, order_updates=(
            *report.execution.out_of_band, *records.order_updates))
    return records


def candidate_records(report: CandidateReport, ts: Sequence[int]) -> BatchRecords:
    """A candidate's records (book ``candidate:<name>``)."""
    outcome = report.outcome
    errors = [RiskEvent(int(ts[0]), "strategy_error", "strategy_error", e)
              for e in report.errors]
    return _book_records(f"candidate:{report.name}", outcome, ts,
                         report.signals, report.diary,
                         (*errors, *outcome.risk_events), outcome.decisions)

