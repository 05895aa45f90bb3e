"""One batch of a book's records: the record type, its validation and its SQL writes.

:class:`BatchRecords` is what a book produced in one step; :func:`check_batch` validates it
(types, NaN equity, mismatched arrays) and :func:`append_checked` writes it inside the
caller's transaction with the idempotent keys of :mod:`actors.adapters.session_schema`.
:class:`~actors.adapters.session_store.SessionStore` runs them, one transaction per call.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.adapters.session_schema import (
    LatencySample,
    encode,
    insert_messages,
    plain,
    write_orders,
    write_portfolio,
    write_positions,
)
from core.errors import EvotraderError
from core.trading.messages import (
    DiaryEntry,
    Fill,
    OrderRequest,
    OrderUpdate,
    PortfolioSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
)


class StoreError(EvotraderError):
    """The session store cannot be opened, read or written, or was given invalid records.

    Covers a corrupt or locked file, a newer schema, a closed store and records that break an
    invariant (NaN equity, wrong types). Not retried by the store: the caller decides.
    """


@dataclass(frozen=True, slots=True, eq=False)
class BatchRecords:
    """Everything one book produced in one batch; the unit of :meth:`SessionStore.append_batch`.

    Any field may be empty. Equity arrays give one point per bar: ``equity_ts`` (bar open
    times) and ``equity``, with optional ``cash`` and ``gross`` of the same length (or empty);
    ``portfolio`` snapshots add cash and gross exposure for their bars, and the latest one
    replaces the book's open positions.

    Attributes:
        book: ``"live"`` or ``"candidate:<name>"``.
        signals: Signals of the batch.
        order_requests: Orders derived from the signals (and stops).
        risk_decisions: Verdicts on those orders.
        order_updates: Order state transitions.
        fills: Executions.
        portfolio: Portfolio snapshots (at least the last bar's, for the open positions).
        equity_ts: Bar open times of the equity points.
        equity: Equity at the close of those bars.
        cash: Cash at those bars, or empty.
        gross: Gross exposure at those bars, or empty.
        risk_events: Risk events.
        diary: Diary entries.
        latencies: Latency samples measured while processing the batch.
    """

    book: str = "live"
    signals: Sequence[Signal] = ()
    order_requests: Sequence[OrderRequest] = ()
    risk_decisions: Sequence[RiskDecision] = ()
    order_updates: Sequence[OrderUpdate] = ()
    fills: Sequence[Fill] = ()
    portfolio: Sequence[PortfolioSnapshot] = ()
    equity_ts: Sequence[int] | np.ndarray = ()
    equity: Sequence[float] | np.ndarray = ()
    cash: Sequence[float] | np.ndarray = ()
    gross: Sequence[float] | np.ndarray = ()
    risk_events: Sequence[RiskEvent] = ()
    diary: Sequence[DiaryEntry] = ()
    latencies: Sequence[LatencySample] = ()


_LISTS = (("signals", Signal), ("order_requests", OrderRequest),
          ("risk_decisions", RiskDecision), ("order_updates", OrderUpdate), ("fills", Fill),
          ("portfolio", PortfolioSnapshot), ("risk_events", RiskEvent), ("diary", DiaryEntry),
          ("latencies", LatencySample))


def append_checked(conn: sqlite3.Connection, seq: int, records: BatchRecords,
            equity: list[tuple[Any, ...]]) -> None:
    """Write one checked batch inside the caller's transaction (see ``append_batch``)."""
    book = records.book
    before = conn.total_changes
    prior = conn.execute("SELECT MAX(ts) FROM portfolio WHERE book = ?", (book,)).fetchone()[0]
    for table in ("signals", "order_requests", "risk_decisions", "order_updates"):
        insert_messages(conn, table, ("seq",),
                        [(book, seq, *encode(m)) for m in getattr(records, table)])
    write_orders(conn, book, records.order_requests, records.risk_decisions,
                 records.order_updates)
    ordinal: Counter[tuple[str, int]] = Counter()
    fills = []
    for f in records.fills:
        key = (f.client_order_id, int(f.ts))
        fills.append((book, ordinal[key], seq, *encode(f)))
        ordinal[key] += 1
    insert_messages(conn, "fills", ("n", "seq"), fills)
    write_portfolio(conn, book, seq, [
        (plain(p.ts), plain(p.cash), plain(p.equity), plain(p.gross_exposure))
        for p in records.portfolio] + equity)
    write_positions(conn, book, records.portfolio, prior)
    for table in ("risk_events", "diary"):
        insert_messages(conn, table, ("seq", "idx"), [
            (book, seq, i, *encode(m)) for i, m in enumerate(getattr(records, table))])
    conn.executemany("INSERT INTO latencies VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     [(book, seq, i, s.stage, plain(s.ms))
                      for i, s in enumerate(records.latencies)])
    written = conn.total_changes - before
    conn.execute("INSERT INTO batches VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                 (book, seq, written))


def check_batch(seq: int, records: BatchRecords) -> list[tuple[Any, ...]]:
    """Validate a batch; return its equity arrays as rows ``(ts, cash, equity, gross)``."""
    if not isinstance(records, BatchRecords):
        raise StoreError(f"append_batch expects BatchRecords, got {type(records).__name__}")
    book = records.book
    where = f"batch {seq} of book {book!r}"
    if isinstance(seq, bool) or not isinstance(seq, int | np.integer) or seq < 0:
        raise StoreError(f"batch number must be an integer >= 0, got {seq!r}")
    if not isinstance(book, str) or not book or book != book.strip():
        raise StoreError(f"book must be a non-empty name without surrounding spaces, "
                         f"got {book!r}")
    for name, kind in _LISTS:
        for item in getattr(records, name):
            if not isinstance(item, kind):
                raise StoreError(f"{where}: {name} holds a {type(item).__name__}, "
                                 f"expected {kind.__name__}")
    return _equity_rows(records, where)


def _equity_rows(records: BatchRecords, where: str) -> list[tuple[Any, ...]]:
    """The batch's equity arrays as rows ``(ts, cash, equity, gross)``, validated."""
    ts = np.asarray(records.equity_ts).reshape(-1)
    if ts.size and not np.issubdtype(ts.dtype, np.integer):
        raise StoreError(f"{where}: equity_ts must be integers (ms), got {ts.dtype}")
    if np.any(np.diff(ts) <= 0):
        raise StoreError(f"{where}: equity_ts must strictly increase")
    columns: dict[str, np.ndarray | None] = {}
    for name in ("equity", "cash", "gross"):
        values = np.asarray(getattr(records, name), dtype=np.float64).reshape(-1)
        if name != "equity" and values.size == 0:
            columns[name] = None
            continue
        if values.size != ts.size:
            raise StoreError(f"{where}: {ts.size} equity times for {values.size} {name} values")
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise StoreError(f"{where}: {name} is not finite at bar ts={int(ts[bad])}")
        columns[name] = values
    eq, cash, gross = columns["equity"], columns["cash"], columns["gross"]
    assert eq is not None
    return [(int(ts[i]), None if cash is None else float(cash[i]), float(eq[i]),
             None if gross is None else float(gross[i])) for i in range(ts.size)]
