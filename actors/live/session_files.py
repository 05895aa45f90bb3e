"""Session folder files: deterministic exports of the store and the ``session.md`` summary.

:func:`export_session` writes, for one book:

* ``orders.csv`` — :data:`ORDERS_COLUMNS`, one row per order, by (ts, client_order_id);
* ``fills.csv`` — :data:`FILLS_COLUMNS`, by (ts, client_order_id, n);
* ``positions.csv`` — :data:`POSITIONS_COLUMNS`, open positions of the last snapshot, by
  (symbol, tag);
* ``equity.csv`` — :data:`EQUITY_COLUMNS`, one row per bar, by ts;
* ``risk_events.jsonl`` — objects with keys :data:`RISK_EVENT_KEYS`, by (ts, seq, idx);
* ``diary.jsonl`` — objects with keys :data:`DIARY_KEYS` (``features`` as an object), by
  (ts, seq, idx).

The bytes depend only on the recorded data: fixed column order, LF line ends, floats as
``repr`` (shortest round-trip), integers as digits, booleans ``true``/``false``, missing values
empty (CSV) or ``null`` (JSON; non-finite floats too, so every line is strict JSON), no
wall-clock or process columns. Two stores fed the same records give byte-identical files.
Every file is read from one consistent snapshot of the store
(:meth:`SessionStore.snapshot`) and written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from actors.adapters.files import atomic_write_bytes
from actors.adapters.session_store import SessionStore, StoreError
from core.errors import DataError
from core.trading.latency import LatencyRecorder
from core.trading.summary import SessionSummary, render_markdown, summarize_session

ORDERS_COLUMNS = ("ts", "client_order_id", "strategy_id", "symbol", "tag", "side", "quantity",
                  "reference_price", "target", "target_notional", "reduce_only", "kind",
                  "stop_loss_pct", "take_profit_pct", "approved", "deny_reason", "status",
                  "filled_quantity", "updated_ts", "reason")
FILLS_COLUMNS = ("ts", "client_order_id", "strategy_id", "symbol", "tag", "side", "quantity",
                 "price", "fee", "slippage_cost", "liquidity", "reason")
POSITIONS_COLUMNS = ("ts", "symbol", "tag", "quantity", "avg_price", "last_price",
                     "unrealized_pnl", "realized_pnl", "mae", "mfe", "opened_ts")
EQUITY_COLUMNS = ("ts", "cash", "equity", "gross_exposure")
RISK_EVENT_KEYS = ("ts", "kind", "reason", "detail", "client_order_id", "symbol", "state")
DIARY_KEYS = ("ts", "strategy_id", "strategy_hash", "symbol", "features", "decision",
              "client_order_id", "verdict")
SESSION_FILES = ("orders.csv", "fills.csv", "positions.csv", "equity.csv",
                 "risk_events.jsonl", "diary.jsonl")


def export_session(store: SessionStore, folder: Path, book: str = "live") -> list[Path]:
    """Write the deterministic session files of ``book`` into ``folder``.

    Args:
        store: The session store to read.
        folder: Destination folder (created when missing); existing files are replaced.
        book: ``"live"`` or ``"candidate:<name>"``.

    Returns:
        The paths written, in :data:`SESSION_FILES` order.

    Raises:
        StoreError: The store cannot be read or a file cannot be written.
    """
    folder = Path(folder)
    with store.snapshot():
        contents = _contents(store, book)
    return [_write(folder / name, contents[name]) for name in SESSION_FILES]


def _contents(store: SessionStore, book: str) -> dict[str, bytes]:
    """The bytes of every session file of ``book``."""
    return {
        "orders.csv": _csv(ORDERS_COLUMNS, ([getattr(o, c) for c in ORDERS_COLUMNS]
                                            for o in store.orders(book))),
        "fills.csv": _csv(FILLS_COLUMNS, ([getattr(f, c) for c in FILLS_COLUMNS]
                                          for f in store.fills(book))),
        "positions.csv": _csv(POSITIONS_COLUMNS, (
            [r.ts, *(getattr(r.position, c) for c in POSITIONS_COLUMNS[1:])]
            for r in store.positions(book))),
        "equity.csv": _csv(EQUITY_COLUMNS, ([r.ts, r.cash, r.equity, r.gross_exposure]
                                            for r in store.portfolio(book))),
        "risk_events.jsonl": _jsonl({k: getattr(e, k) for k in RISK_EVENT_KEYS}
                                    for e in store.risk_events(book)),
        "diary.jsonl": _jsonl({k: dict(d.features) if k == "features" else getattr(d, k)
                               for k in DIARY_KEYS} for d in store.diary(book)),
    }


def write_session_md(folder: Path, summary: SessionSummary) -> Path:
    """Write ``folder/session.md`` (:func:`render_markdown` of ``summary``) atomically.

    Raises:
        StoreError: The file cannot be written.
    """
    return _write(Path(folder) / "session.md", render_markdown(summary).encode())


def build_summary(store: SessionStore, session_id: str, book: str = "live", *,
                  initial_equity: float | None = None, info: Mapping[str, str] | None = None,
                  data: Mapping[str, str] | None = None) -> SessionSummary:
    """Summarise ``book`` from what the store recorded (see :func:`summarize_session`).

    Restarts are counted per actor over the whole session; latency percentiles come from the
    book's recorded samples.

    Raises:
        StoreError: The store cannot be read.
        DataValidationError: The recorded equity is inconsistent.
    """
    with store.snapshot():
        ts, equity = store.equity(book)
        samples = store.latencies(book)
        fills, events = store.fills(book), store.risk_events(book)
        restarts = Counter(r.actor for r in store.restarts())
    recorder = LatencyRecorder()
    unusable = 0
    for sample in samples:
        if math.isfinite(sample.ms) and sample.ms >= 0:
            recorder.add(sample.stage, sample.ms)
        else:  # never let one bad measurement stop the session's end
            unusable += 1
    if unusable:
        info = {**(info or {}), "latency samples left out": f"{unusable} (negative or NaN)"}
    return summarize_session(session_id, ts, equity, book=book, fills=fills,
                             risk_events=events, restarts=restarts, latency=recorder.stats(),
                             initial_equity=initial_equity, info=info, data=data)


def _cell(value: Any) -> str:
    """One CSV cell: ``repr`` for floats, digits for ints, ``true``/``false``, ``""`` for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue().encode()


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _jsonl(objects: Iterable[Mapping[str, Any]]) -> bytes:
    lines = [json.dumps({k: _json_value(v) for k, v in obj.items()}, allow_nan=False) + "\n"
             for obj in objects]
    return "".join(lines).encode()


def _write(path: Path, data: bytes) -> Path:
    try:
        atomic_write_bytes(path, data)
    except DataError as exc:
        raise StoreError(f"cannot write session file {path}: {exc}") from exc
    return path
