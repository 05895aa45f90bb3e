"""Schema of the session store (SQLite): tables, keys, version, row records, idempotent writes.

Every table that holds trading records has a ``book`` column (``"live"`` or
``"candidate:<name>"``) and a deterministic primary key, so a retried batch is absorbed by
``INSERT ... ON CONFLICT DO NOTHING`` (or by a guarded upsert for the "current state" tables):

=================  ===============================================  ========================
table              primary key                                      write
=================  ===============================================  ========================
sessions           session_id                                       insert once, set status
batches            book, seq                                        skip if present
signals            book, strategy_id, symbol, tag, ts               skip if present
order_requests     book, client_order_id                            skip if present
risk_decisions     book, client_order_id                            skip if present
order_updates      book, client_order_id, ts, status, filled_qty    skip if present
orders             book, client_order_id                            upsert (newest status)
fills              book, client_order_id, ts, n                     skip if present
positions          book, symbol, tag                                latest snapshot only
portfolio          book, ts                                         insert, fill missing cols
risk_events        book, seq, idx                                   skip if present
diary              book, seq, idx                                   skip if present
latencies          book, seq, idx                                   skip if present
supervisor_events  ts, supervisor, child, kind                      skip if present
restarts           actor, attempt                                   skip if present
=================  ===============================================  ========================

``n`` of a fill is its ordinal among the fills of the same order and bar in its batch; ``idx``
is a record's index in its batch's list. The ledger tables (signals, order requests, risk
decisions, order updates, fills, risk events, diary) refuse ``UPDATE`` and ``DELETE``.
The version is SQLite's ``PRAGMA user_version``.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

import numpy as np

from core.trading.messages import (
    DiaryEntry,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionSnapshot,
    RiskDecision,
    RiskEvent,
    Signal,
)

SCHEMA_VERSION = 1

STATUS_RANK = {OrderStatus.INITIALIZED: 0, OrderStatus.ACCEPTED: 1,
               OrderStatus.PARTIALLY_FILLED: 2, OrderStatus.DENIED: 3, OrderStatus.FILLED: 3,
               OrderStatus.CANCELED: 3, OrderStatus.REJECTED: 3}
"""Order of statuses at equal time: a terminal status beats a working one."""

_STATIC_TABLES = """
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY, config_id TEXT NOT NULL, created_ts INTEGER NOT NULL,
    info TEXT NOT NULL, status TEXT NOT NULL, status_ts INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE batches (
    book TEXT NOT NULL, seq INTEGER NOT NULL, rows INTEGER NOT NULL,
    PRIMARY KEY (book, seq)) WITHOUT ROWID;
CREATE TABLE orders (
    book TEXT NOT NULL, client_order_id TEXT NOT NULL, ts INTEGER NOT NULL,
    strategy_id TEXT NOT NULL DEFAULT '', symbol TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '', side TEXT, quantity REAL, reference_price REAL,
    target REAL, target_notional REAL, reduce_only INTEGER, kind TEXT NOT NULL DEFAULT '',
    stop_loss_pct REAL, take_profit_pct REAL, approved INTEGER,
    deny_reason TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, status_rank INTEGER NOT NULL,
    filled_quantity REAL NOT NULL, updated_ts INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (book, client_order_id)) WITHOUT ROWID;
CREATE TABLE portfolio (
    book TEXT NOT NULL, ts INTEGER NOT NULL, cash REAL, equity REAL NOT NULL,
    gross_exposure REAL, seq INTEGER NOT NULL,
    PRIMARY KEY (book, ts)) WITHOUT ROWID;
CREATE TABLE latencies (
    book TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL, stage TEXT NOT NULL,
    ms REAL NOT NULL,
    PRIMARY KEY (book, seq, idx)) WITHOUT ROWID;
CREATE TABLE supervisor_events (
    ts INTEGER NOT NULL, supervisor TEXT NOT NULL, child TEXT NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (ts, supervisor, child, kind)) WITHOUT ROWID;
CREATE TABLE restarts (
    actor TEXT NOT NULL, attempt INTEGER NOT NULL, ts INTEGER NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (actor, attempt)) WITHOUT ROWID;
CREATE INDEX orders_by_ts ON orders (book, ts)
"""

MESSAGE_TABLES: dict[str, type] = {
    "signals": Signal, "order_requests": OrderRequest, "risk_decisions": RiskDecision,
    "order_updates": OrderUpdate, "fills": Fill, "positions": PositionSnapshot,
    "risk_events": RiskEvent, "diary": DiaryEntry,
}
"""Tables whose columns (after ``book`` and :data:`MESSAGE_KEYS`) are a message's fields."""

MESSAGE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "signals": (("seq",), ("strategy_id", "symbol", "tag", "ts")),
    "order_requests": (("seq",), ("client_order_id",)),
    "risk_decisions": (("seq",), ("client_order_id",)),
    "order_updates": (("seq",), ("client_order_id", "ts", "status", "filled_quantity")),
    "fills": (("n", "seq"), ("client_order_id", "ts", "n")),
    "positions": (("ts",), ("symbol", "tag")),
    "risk_events": (("seq", "idx"), ("seq", "idx")),
    "diary": (("seq", "idx"), ("seq", "idx")),
}
"""Per message table: the extra integer columns, and the primary key after ``book``."""

LEDGER_TABLES = ("signals", "order_requests", "risk_decisions", "order_updates", "fills",
                 "risk_events", "diary")
BOOK_TABLES = ("batches", "signals", "order_requests", "risk_decisions", "order_updates",
               "orders", "fills", "positions", "portfolio", "risk_events", "diary", "latencies")
"""Tables with a ``book`` column (see :meth:`SessionStore.counts`)."""
TABLES = ("sessions", *BOOK_TABLES, "supervisor_events", "restarts")


def _field_type(hint: Any) -> tuple[type, bool]:
    """The base type of a field's annotation and whether it admits None."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        base = [a for a in args if a is not type(None)]
        return (base[0] if len(base) == 1 else object), type(None) in args
    return (typing.get_origin(hint) or hint), False


@functools.cache
def field_types(message_type: type) -> dict[str, tuple[type, bool]]:
    """``name -> (base type, optional)`` for every field of a message type, in order.

    Cached per type: resolving the annotations is far dearer than decoding a row.
    """
    hints = typing.get_type_hints(message_type)
    return {name: _field_type(hints[name]) for name in columns(message_type)}


def _sql_type(base: type, optional: bool) -> str:
    if isinstance(base, type) and issubclass(base, int | float) and not issubclass(base, Enum):
        sql = "REAL" if issubclass(base, float) else "INTEGER"
    else:
        sql = "TEXT"  # str, enums, and JSON for containers
    return sql if optional else f"{sql} NOT NULL"


def _message_table(table: str) -> str:
    extra, key = MESSAGE_KEYS[table]
    message_type = MESSAGE_TABLES[table]
    cols = ["book TEXT NOT NULL", *(f"{name} INTEGER NOT NULL" for name in extra)]
    cols += [f"{name} {_sql_type(*kind)}" for name, kind in field_types(message_type).items()]
    return (f"CREATE TABLE {table} ({', '.join(cols)}, "
            f"PRIMARY KEY (book, {', '.join(key)})) WITHOUT ROWID")


def schema_statements() -> list[str]:
    """Every statement creating schema version :data:`SCHEMA_VERSION`.

    Message tables are derived from the message dataclasses (int/bool -> INTEGER, float ->
    REAL, str/enum -> TEXT, containers -> JSON TEXT; ``NOT NULL`` unless the field admits
    None), so a file written before a message gained a field is detected on opening.
    """
    statements = [s.strip() for s in _STATIC_TABLES.split(";") if s.strip()]
    statements += [_message_table(table) for table in MESSAGE_TABLES]
    statements += [f"CREATE INDEX {t}_by_ts ON {t} (book, ts)"
                   for t in ("signals", "fills", "risk_events", "diary")]
    for table in LEDGER_TABLES:
        for verb in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
    return statements



@functools.cache
def expected_columns() -> dict[str, tuple[str, ...]]:
    """Column names of every table of this code's schema (built in an in-memory database)."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in schema_statements():
            conn.execute(statement)
        return {table: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
                for table in TABLES}
    finally:
        conn.close()


def column_mismatches(conn: sqlite3.Connection) -> list[str]:
    """How the tables of an opened file differ from :func:`expected_columns` (empty if not)."""
    problems = []
    for table, expected in expected_columns().items():
        found = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        if found != expected:
            problems.append(f"{table} has columns {list(found)}, expected {list(expected)}")
    return problems

@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    """Something a supervisor did or saw (child started, missed heartbeat, escalation, ...).

    Attributes:
        ts: When (ms UTC, from the supervisor's clock).
        supervisor: Supervisor name.
        child: Child name (``""`` for the supervisor itself).
        kind: ``"started"``, ``"died"``, ``"restarted"``, ``"unhealthy"``, ``"escalated"``...
        detail: Human-readable detail.
    """

    ts: int
    supervisor: str
    child: str
    kind: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Restart:
    """One restart of an actor; ``attempt`` counts that actor's restarts from 1."""

    actor: str
    attempt: int
    ts: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LatencySample:
    """One latency sample: ``ms`` milliseconds spent in ``stage`` (see core.trading.latency)."""

    stage: str
    ms: float


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A row of ``sessions``; ``info`` is the creation info given to ``open_session``."""

    session_id: str
    config_id: str
    created_ts: int
    info: dict[str, Any]
    status: str
    status_ts: int


@dataclass(frozen=True, slots=True)
class OrderRow:
    """Current state of one order (``orders`` table).

    Request fields are None/empty when only updates of the order were recorded. ``approved``
    is None until the risk verdict is recorded. ``ts`` is the decision bar (the first update's
    time when the request is missing); ``updated_ts`` the time of the current ``status``.
    """

    client_order_id: str
    ts: int
    strategy_id: str
    symbol: str
    tag: str
    side: str | None
    quantity: float | None
    reference_price: float | None
    target: float | None
    target_notional: float | None
    reduce_only: bool | None
    kind: str
    stop_loss_pct: float | None
    take_profit_pct: float | None
    approved: bool | None
    deny_reason: str
    status: str
    filled_quantity: float
    updated_ts: int
    reason: str


ORDER_COLUMNS = ("client_order_id", "ts", "strategy_id", "symbol", "tag", "side", "quantity",
                 "reference_price", "target", "target_notional", "reduce_only", "kind",
                 "stop_loss_pct", "take_profit_pct", "approved", "deny_reason", "status",
                 "filled_quantity", "updated_ts", "reason")


def order_row(row: tuple[Any, ...]) -> OrderRow:
    """Decode an ``orders`` row selected with :data:`ORDER_COLUMNS`."""
    values = dict(zip(ORDER_COLUMNS, row, strict=True))
    for flag in ("reduce_only", "approved"):
        values[flag] = None if values[flag] is None else bool(values[flag])
    return OrderRow(**values)


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """Equity of a book at bar ``ts``; cash and gross exposure are None if not recorded."""

    ts: int
    cash: float | None
    equity: float
    gross_exposure: float | None


@dataclass(frozen=True, slots=True)
class PositionRow:
    """An open position of the latest recorded portfolio snapshot (taken at bar ``ts``)."""

    ts: int
    position: PositionSnapshot


def columns(message_type: type) -> tuple[str, ...]:
    """The field names of a message type, which are also its table's column names."""
    return tuple(f.name for f in fields(message_type))


def plain(value: Any) -> Any:
    """A value SQLite binds as intended (numpy scalars would otherwise become blobs)."""
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def encode(message: Any) -> tuple[Any, ...]:
    """The column values of a message, in :func:`columns` order (containers as JSON)."""
    values = []
    for name in columns(type(message)):
        value = getattr(message, name)
        if isinstance(value, tuple | list | dict):
            value = json.dumps(value, default=_json_scalar)
        values.append(plain(value))
    return tuple(values)


def decode(message_type: type, row: Sequence[Any]) -> Any:
    """Rebuild a message from a row selected with :func:`columns` of its type."""
    values = {}
    for (name, (base, _)), value in zip(field_types(message_type).items(), row, strict=True):
        if value is not None:
            if base in (tuple, list, dict) or base is object:
                value = _tuples(json.loads(value)) if isinstance(value, str) else value
            elif issubclass(base, bool | Enum):
                value = base(value)
        values[name] = value
    return message_type(**values)


def _json_scalar(value: Any) -> Any:
    """JSON fallback for numpy scalars inside containers (e.g. diary feature values)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _tuples(value: Any) -> Any:
    """JSON arrays back to (nested) tuples, as the frozen messages hold them."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


# -- writing -------------------------------------------------------------------------------

_REQUEST_FIELDS = ("ts", "strategy_id", "symbol", "tag", "side", "quantity", "reference_price",
                   "target", "target_notional", "reduce_only", "kind", "stop_loss_pct",
                   "take_profit_pct")
_SQL_REQUEST = (
    f"INSERT INTO orders (book, client_order_id, {', '.join(_REQUEST_FIELDS)}, status, "
    f"status_rank, filled_quantity, updated_ts, reason) VALUES "
    f"({', '.join('?' * (len(_REQUEST_FIELDS) + 2))}, 'INITIALIZED', 0, 0.0, ?, '') "
    "ON CONFLICT (book, client_order_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _REQUEST_FIELDS) + " WHERE orders.side IS NULL")
_SQL_VERDICT = (
    "INSERT INTO orders (book, client_order_id, ts, approved, deny_reason, status, status_rank, "
    "filled_quantity, updated_ts, reason) VALUES (?, ?, ?, ?, ?, 'INITIALIZED', 0, 0.0, ?, '') "
    "ON CONFLICT (book, client_order_id) DO UPDATE SET approved = excluded.approved, "
    "deny_reason = excluded.deny_reason WHERE orders.approved IS NULL")
_SQL_STATUS = (
    "INSERT INTO orders (book, client_order_id, ts, status, status_rank, filled_quantity, "
    "updated_ts, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (book, client_order_id) DO UPDATE SET status = excluded.status, "
    "status_rank = excluded.status_rank, filled_quantity = excluded.filled_quantity, "
    "updated_ts = excluded.updated_ts, reason = excluded.reason "
    "WHERE (excluded.updated_ts, excluded.status_rank, excluded.filled_quantity) "
    "> (orders.updated_ts, orders.status_rank, orders.filled_quantity)")
_SQL_PORTFOLIO = (
    "INSERT INTO portfolio (book, ts, cash, equity, gross_exposure, seq) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (book, ts) DO UPDATE SET "
    "cash = COALESCE(portfolio.cash, excluded.cash), "
    "gross_exposure = COALESCE(portfolio.gross_exposure, excluded.gross_exposure) "
    "WHERE (portfolio.cash IS NULL AND excluded.cash IS NOT NULL) "
    "OR (portfolio.gross_exposure IS NULL AND excluded.gross_exposure IS NOT NULL)")
POSITION_COLUMNS = columns(PositionSnapshot)
_SQL_POSITION = (
    f"INSERT INTO positions (book, ts, {', '.join(POSITION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(POSITION_COLUMNS) + 2))}) "
    "ON CONFLICT (book, symbol, tag) DO UPDATE SET ts = excluded.ts, "
    + ", ".join(f"{c} = excluded.{c}" for c in POSITION_COLUMNS[2:])
    + " WHERE excluded.ts > positions.ts")
UPDATE_ORDER = ("ts, client_order_id, filled_quantity, CASE status "
                + " ".join(f"WHEN '{s.value}' THEN {r}" for s, r in STATUS_RANK.items())
                + " END")
"""``ORDER BY`` of order updates: time, order, then the order's lifecycle."""


def insert_messages(conn: sqlite3.Connection, table: str, keys: tuple[str, ...],
                    rows: list[tuple[Any, ...]]) -> None:
    """Insert rows ``(book, *keys, *message columns)``; a row whose key exists is skipped."""
    if not rows:
        return
    names = ("book", *keys, *columns(MESSAGE_TABLES[table]))
    conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) "
                     f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT DO NOTHING", rows)


def write_orders(conn: sqlite3.Connection, book: str, requests: Sequence[OrderRequest],
                 decisions: Sequence[RiskDecision], updates: Sequence[OrderUpdate]) -> None:
    """Upsert the current state of orders: request fields, verdict, newest status.

    A denial counts as a ``DENIED`` status at the verdict's time.
    """
    conn.executemany(_SQL_REQUEST, [
        (book, r.client_order_id, *(plain(getattr(r, c)) for c in _REQUEST_FIELDS),
         plain(r.ts)) for r in requests])
    conn.executemany(_SQL_VERDICT, [
        (book, d.client_order_id, plain(d.ts), int(d.approved), d.reason, plain(d.ts))
        for d in decisions])
    denied = [OrderUpdate(d.client_order_id, d.ts, OrderStatus.DENIED, 0.0, d.reason)
              for d in decisions if not d.approved]
    conn.executemany(_SQL_STATUS, [
        (book, u.client_order_id, plain(u.ts), u.status.value, STATUS_RANK[u.status],
         plain(u.filled_quantity), plain(u.ts), u.reason) for u in (*denied, *updates)])


def write_portfolio(conn: sqlite3.Connection, book: str, seq: int,
                    rows: Sequence[tuple[int, float | None, float, float | None]]) -> None:
    """Insert equity points ``(ts, cash, equity, gross)``.

    A point already recorded only gets its missing cash or gross exposure filled in; a
    recorded value is never changed.
    """
    conn.executemany(_SQL_PORTFOLIO, [(book, *row, seq) for row in rows])


def write_positions(conn: sqlite3.Connection, book: str,
                    snapshots: Sequence[PortfolioSnapshot], prior_ts: int | None) -> None:
    """Make the book's open positions those of the batch's latest snapshot.

    Skipped when an older batch is retried (its snapshot precedes the recorded equity).
    """
    if not snapshots:
        return
    latest = max(snapshots, key=lambda p: p.ts)
    ts = int(latest.ts)
    if prior_ts is not None and ts < prior_ts:
        return
    conn.executemany(_SQL_POSITION, [(book, ts, *encode(p)) for p in latest.positions])
    conn.execute("DELETE FROM positions WHERE book = ? AND ts < ?", (book, ts))
