"""Summary of a trading session (one book) and its ``session.md`` rendering.

:func:`summarize_session` turns what the store recorded (equity per bar, fills, risk events,
restarts by actor, latency percentiles) into a frozen :class:`SessionSummary`;
:func:`render_markdown` renders it with sections Result, Risk, Supervision, Latency and Data.
Both are pure and deterministic: the only free-form content (session id, creation info, data
description) is what the caller passes in, so the same inputs give the same text byte for byte.

Conventions: PnL is ``end - start`` (quote) and ``100 * (end / start - 1)`` (%), where start is
``initial_equity`` if given, else the first equity value. Max drawdown is the deepest fall from
a running peak of that curve (``initial_equity`` prepended when given), as a negative percent
(:func:`core.metrics.max_drawdown`) and as a positive quote amount. A *trade* is an order that
received at least one fill; *fills* counts executions. Denials are the risk events of kind
``"denied"`` counted by reason.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import DataValidationError
from core.metrics import max_drawdown
from core.trading.latency import StageStats
from core.trading.messages import Fill, RiskEvent

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """Headline numbers of one book of a session (see the module doc for definitions).

    Attributes:
        session_id: Session identifier (given).
        book: ``"live"`` or ``"candidate:<name>"`` (given).
        info: Caller's key/value lines shown under the title (config id, created, mode, ...).
        data: Caller's key/value lines of the Data section (venue, symbols, source, ...).
        bars: Number of equity points.
        first_ts: Time of the first equity point (ms UTC), None if no point.
        last_ts: Time of the last equity point, None if no point.
        start_equity: Equity PnL is measured from.
        end_equity: Last equity (NaN if no point).
        pnl: ``end_equity - start_equity`` (quote).
        pnl_pct: PnL in percent of ``start_equity`` (NaN unless it is positive).
        max_drawdown_pct: Deepest drawdown, percent, <= 0 (NaN if undefined).
        max_drawdown_abs: Deepest drawdown in quote, >= 0.
        trades: Orders with at least one fill.
        fills: Executions.
        fees: Sum of fees (quote).
        slippage: Sum of slippage costs (quote).
        notional: Sum of ``quantity * price`` over fills (quote).
        denials: ``(reason, count)`` sorted by reason.
        risk_events: ``(kind, count)`` sorted by kind.
        final_state: Trading state after the last risk event, ``""`` if there was none.
        restarts: ``(actor, count)`` sorted by actor.
        latency: Latency percentiles per stage, in stage order.
    """

    session_id: str
    book: str
    info: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    bars: int
    first_ts: int | None
    last_ts: int | None
    start_equity: float
    end_equity: float
    pnl: float
    pnl_pct: float
    max_drawdown_pct: float
    max_drawdown_abs: float
    trades: int
    fills: int
    fees: float
    slippage: float
    notional: float
    denials: tuple[tuple[str, int], ...]
    risk_events: tuple[tuple[str, int], ...]
    final_state: str
    restarts: tuple[tuple[str, int], ...]
    latency: tuple[StageStats, ...]

    @property
    def total_restarts(self) -> int:
        """Restarts over all actors."""
        return sum(n for _, n in self.restarts)

    @property
    def total_denials(self) -> int:
        """Denied orders over all reasons."""
        return sum(n for _, n in self.denials)


def summarize_session(
    session_id: str,
    equity_ts: Sequence[int] | np.ndarray,
    equity: Sequence[float] | np.ndarray,
    *,
    book: str = "live",
    fills: Sequence[Fill] = (),
    risk_events: Sequence[RiskEvent] = (),
    restarts: Mapping[str, int] | None = None,
    latency: Sequence[StageStats] = (),
    initial_equity: float | None = None,
    info: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
) -> SessionSummary:
    """Summarise one book of a session.

    Args:
        session_id: Session identifier.
        equity_ts: Bar times of the equity points, strictly increasing.
        equity: Equity at each of those bars (finite).
        book: The book summarised.
        fills: Its fills.
        risk_events: Its risk events, in the order they happened.
        restarts: Restarts by actor name.
        latency: Latency percentiles (:meth:`LatencyRecorder.stats`).
        initial_equity: Starting capital; default the first equity point.
        info: Lines shown under the title, in the given order.
        data: Lines of the Data section, in the given order.

    Returns:
        The summary.

    Raises:
        DataValidationError: Lengths differ, times do not increase, equity is not finite.
    """
    ts, eq = _checked(equity_ts, equity)
    curve = eq if initial_equity is None else np.concatenate(([float(initial_equity)], eq))
    start = float(curve[0]) if curve.size else math.nan
    end = float(eq[-1]) if eq.size else math.nan
    if curve.size:
        depth_pct = 100.0 * max_drawdown(curve)
        depth_abs = float(np.max(np.maximum.accumulate(curve) - curve))
    else:
        depth_pct, depth_abs = math.nan, 0.0
    denied = Counter(e.reason for e in risk_events if e.kind == "denied")
    ordered = sorted(risk_events, key=lambda e: e.ts)
    return SessionSummary(
        session_id=session_id, book=book,
        info=tuple((str(k), str(v)) for k, v in (info or {}).items()),
        data=tuple((str(k), str(v)) for k, v in (data or {}).items()),
        bars=int(eq.size), first_ts=int(ts[0]) if ts.size else None,
        last_ts=int(ts[-1]) if ts.size else None,
        start_equity=start, end_equity=end, pnl=end - start,
        pnl_pct=100.0 * (end / start - 1.0) if start > 0 else math.nan,
        max_drawdown_pct=depth_pct, max_drawdown_abs=depth_abs,
        trades=len({f.client_order_id for f in fills}), fills=len(fills),
        fees=math.fsum(f.fee for f in fills),
        slippage=math.fsum(f.slippage_cost for f in fills),
        notional=math.fsum(f.quantity * f.price for f in fills),
        denials=tuple(sorted(denied.items())),
        risk_events=tuple(sorted(Counter(e.kind for e in risk_events).items())),
        final_state=str(ordered[-1].state.value) if ordered else "",
        restarts=tuple(sorted((str(a), int(n)) for a, n in (restarts or {}).items())),
        latency=tuple(latency),
    )


def _checked(equity_ts: Sequence[int] | np.ndarray, equity: Sequence[float] | np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    ts = np.asarray(equity_ts, dtype=np.int64).reshape(-1)
    eq = np.asarray(equity, dtype=np.float64).reshape(-1)
    source = "session equity"
    if ts.size != eq.size:
        raise DataValidationError(f"{ts.size} equity times for {eq.size} equity values",
                                  source=source)
    bad = np.flatnonzero(~np.isfinite(eq))
    if bad.size:
        raise DataValidationError("equity is not finite", source=source, row=int(bad[0]),
                                  timestamp_ms=int(ts[bad[0]]))
    back = np.flatnonzero(np.diff(ts) <= 0)
    if back.size:
        row = int(back[0]) + 1
        raise DataValidationError("equity times do not strictly increase", source=source,
                                  row=row, timestamp_ms=int(ts[row]))
    return ts, eq


def render_markdown(summary: SessionSummary) -> str:
    """The ``session.md`` text of ``summary``: deterministic, ends with a newline."""
    s = summary
    lines = [f"# Session {s.session_id} ({s.book})", ""]
    lines += [f"- {key}: {value}" for key, value in s.info]
    lines += ["", "## Result", ""]
    lines += _table(("metric", "value"), [
        ("start equity", _money(s.start_equity)), ("end equity", _money(s.end_equity)),
        ("PnL", _money(s.pnl)), ("PnL %", _pct(s.pnl_pct)),
        ("max drawdown %", _pct(s.max_drawdown_pct)),
        ("max drawdown", _money(s.max_drawdown_abs)),
        ("trades", str(s.trades)), ("fills", str(s.fills)), ("fees", _money(s.fees)),
        ("slippage", _money(s.slippage)), ("traded notional", _money(s.notional)),
    ])
    lines += ["", "## Risk", "", f"- final trading state: {s.final_state or 'ACTIVE'}",
              f"- denials: {s.total_denials}", ""]
    lines += (_table(("denial reason", "count"), [(r, str(n)) for r, n in s.denials])
              if s.denials else ["No order was denied."])
    lines += [""] + (_table(("risk event", "count"), [(k, str(n)) for k, n in s.risk_events])
                     if s.risk_events else ["No risk event."])
    lines += ["", "## Supervision", "", f"- restarts: {s.total_restarts}", ""]
    lines += (_table(("actor", "restarts"), [(a, str(n)) for a, n in s.restarts])
              if s.restarts else ["No actor was restarted."])
    lines += ["", "## Latency", ""]
    lines += (_table(("stage", "samples", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "exact"),
                     [(x.stage, str(x.count), _ms(x.p50), _ms(x.p99), _ms(x.p999), _ms(x.max),
                       "yes" if x.exact else "histogram") for x in s.latency])
              if s.latency else ["No latency sample."])
    lines += ["", "## Data", "", f"- bars: {s.bars}",
              f"- first bar: {_when(s.first_ts)}", f"- last bar: {_when(s.last_ts)}"]
    lines += [f"- {key}: {value}" for key, value in s.data]
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(row) + " |" for row in rows]


def _money(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.2f}"


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.2f} %"


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _when(ts: int | None) -> str:
    if ts is None:
        return "n/a"
    return (_EPOCH + _dt.timedelta(milliseconds=ts)).strftime("%Y-%m-%d %H:%M:%S UTC")
