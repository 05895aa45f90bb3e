"""Drift between a session's book and the SIM fill model on the same bars (pure).

A PAPER, TESTNET or LIVE session runs the active strategy once more beside it, as the
candidate ``sim-reference`` on the same feeds with the backtester's fill model. At the end
:func:`parity_report` compares the two books:

- orders are matched by what they did, not by their ids (a venue's stop exit and the paper
  client's carry different ids): ``(symbol, tag, side, reason, bar of the first fill)``;
- for each matched order, the fill's volume-weighted price difference in basis points of the
  reference price, and the fee difference;
- orders that filled in one book only (a venue reject, a fill the model did not make);
- the end equity difference, in quote and in basis points of the reference.

The drift is *within bound* when every matched price differs by at most ``bound_bps``, no
order filled in one book only, and the equity differs by at most ``bound_bps``. With faults
off, PAPER and the emulator's fills are the backtester's, so the drift is zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.trading.messages import Fill

REFERENCE = "sim-reference"
"""Name of the candidate that trades the active strategy on the SIM fill model."""

_Key = tuple[str, str, str, str, int]


@dataclass(frozen=True, slots=True)
class ParityReport:
    """How far a session's book drifted from the SIM fill model.

    Attributes:
        matched: Orders filled in both books.
        only_session: Orders filled in the session's book only.
        only_reference: Orders filled in the reference book only.
        max_price_bps: Largest fill-price difference of a matched order, bps (0 if none).
        mean_price_bps: Mean absolute fill-price difference, bps (0 if none).
        fee_diff: Session fees minus reference fees over matched orders (quote).
        equity_diff: Session end equity minus the reference's (quote).
        equity_bps: ``equity_diff`` in bps of the reference's end equity.
        bound_bps: The configured bound.
    """

    matched: int
    only_session: int
    only_reference: int
    max_price_bps: float
    mean_price_bps: float
    fee_diff: float
    equity_diff: float
    equity_bps: float
    bound_bps: float

    @property
    def within_bound(self) -> bool:
        """Whether the drift stays under the bound (see the module doc)."""
        return (self.only_session == 0 and self.only_reference == 0
                and self.max_price_bps <= self.bound_bps
                and abs(self.equity_bps) <= self.bound_bps)


def _orders(fills: Iterable[Fill]) -> dict[_Key, tuple[float, float, float]]:
    """``key -> (quantity, VWAP, fees)`` of every order with fills (external ones left out)."""
    by_order: dict[str, list[Fill]] = {}
    for fill in fills:
        if fill.reason != "external":
            by_order.setdefault(fill.client_order_id, []).append(fill)
    orders: dict[_Key, tuple[float, float, float]] = {}
    for group in by_order.values():
        first = min(group, key=lambda f: f.ts)
        qty = sum(f.quantity for f in group)
        vwap = sum(f.quantity * f.price for f in group) / qty if qty else 0.0
        key = (first.symbol, first.tag, first.side.value, first.reason, int(first.ts))
        orders[key] = (qty, vwap, sum(f.fee for f in group))
    return orders


def parity_report(session_fills: Iterable[Fill], reference_fills: Iterable[Fill],
                  session_equity: float, reference_equity: float, bound_bps: float
                  ) -> ParityReport:
    """Compare a session's book with its SIM reference (see the module doc)."""
    mine, theirs = _orders(session_fills), _orders(reference_fills)
    both = sorted(set(mine) & set(theirs))
    diffs = [abs(mine[k][1] - theirs[k][1]) / theirs[k][1] * 1e4 for k in both
             if theirs[k][1] > 0.0]
    fee_diff = sum(mine[k][2] - theirs[k][2] for k in both)
    equity_diff = float(session_equity) - float(reference_equity)
    equity_bps = (equity_diff / reference_equity * 1e4
                  if reference_equity and math.isfinite(reference_equity) else math.nan)
    return ParityReport(len(both), len(set(mine) - set(theirs)), len(set(theirs) - set(mine)),
                        max(diffs, default=0.0), sum(diffs) / len(diffs) if diffs else 0.0,
                        fee_diff, equity_diff, equity_bps, float(bound_bps))


def render_parity(report: ParityReport) -> list[str]:
    """The ``## Parity with SIM`` section of ``session.md``."""
    verdict = ("within the bound" if report.within_bound
               else "**ABOVE the bound**: read the differences before trusting the model")
    return ["", "## Parity with SIM (same bars, the backtester's fill model)", "",
            "| measure | value |", "|---|---|",
            f"| orders filled in both | {report.matched} |",
            f"| filled in this session only | {report.only_session} |",
            f"| filled in the SIM reference only | {report.only_reference} |",
            f"| fill price drift, max bps | {report.max_price_bps:.3f} |",
            f"| fill price drift, mean bps | {report.mean_price_bps:.3f} |",
            f"| fees, session - SIM | {report.fee_diff:,.6f} |",
            f"| end equity, session - SIM | {report.equity_diff:,.6f} "
            f"({report.equity_bps:.3f} bps) |",
            "", f"- drift bound: {report.bound_bps:g} bps: {verdict}"]
