"""The evolution KPIs from the ledger and the registry: how fast and how well the loop turns.

* time to candidate: from the start of the discovery run that found an alpha (its run id
  carries the start time) to its ``candidate_add`` entry;
* promotion rate: promotions over candidates added;
* rollback latency: bars from a sentry's alarm to the first bar the restored policy traded,
  for every automatic rollback (recorded with the entry).
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from pathlib import Path

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.sqlite_registry import TrialRegistry
from actors.live.sentry_actions import LATENCY_GATE
from core.governance.ledger import Action, LedgerEntry


@dataclass(frozen=True)
class Kpis:
    """The figures (None where nothing was measured)."""

    candidates: int
    promotions: int
    rollbacks: int
    automatic_rollbacks: int
    promotion_rate: float | None
    time_to_candidate_h: list[float]
    rollback_latency_bars: list[float]

    def rows(self) -> list[tuple[str, str]]:
        """``(figure, value)`` rows for a table."""
        def median(values: list[float], unit: str) -> str:
            if not values:
                return "n/a"
            return (f"{statistics.median(values):.1f} {unit} (median of {len(values)}, "
                    f"max {max(values):.1f})")
        rate = "n/a" if self.promotion_rate is None else f"{self.promotion_rate:.0%}"
        return [("candidates added", str(self.candidates)),
                ("promotions", str(self.promotions)),
                ("promotion rate", rate),
                ("rollbacks (automatic)", f"{self.rollbacks} ({self.automatic_rollbacks})"),
                ("time to candidate", median(self.time_to_candidate_h, "h")),
                ("rollback latency", median(self.rollback_latency_bars, "bars"))]


def kpis(store: Path) -> Kpis:
    """The KPIs of the store's ledger and registry."""
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    added = [e for e in entries if e.action is Action.CANDIDATE_ADD
             and e.decided_by != "rule:demoted"]  # a replaced policy kept ready is not new
    promotions = sum(e.action is Action.PROMOTE for e in entries)
    rollbacks = [e for e in entries if e.action is Action.ROLLBACK]
    automatic = [e for e in rollbacks if e.decided_by.startswith("rule:")]
    latencies = [g.value for e in automatic for g in e.gates
                 if g.name == LATENCY_GATE and g.value is not None]
    return Kpis(len(added), promotions, len(rollbacks), len(automatic),
                promotions / len(added) if added else None,
                [h for h in (_hours_to_candidate(store, e) for e in added) if h is not None],
                latencies)


def _hours_to_candidate(store: Path, entry: LedgerEntry) -> float | None:
    spec = entry.spec
    if spec.strategy.kind != "alpha":
        return None
    with TrialRegistry(store) as registry:
        for trial in registry.by_text(spec.strategy.expression):
            started = _run_start_ms(trial.run_id)
            if started is not None and started <= entry.at_ms:
                return (entry.at_ms - started) / 3_600_000
    return None


def _run_start_ms(run_id: str) -> int | None:
    """The start time in a run id made by ``scripts/evolve.py`` (``20261207T204623Z_...``)."""
    try:
        when = dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return int(when.timestamp() * 1000)
