"""SessionStore on real SQLite files: idempotency, round trips, current state, failures."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest

from actors.adapters.session_store import (
    NO_SEQ,
    BatchRecords,
    Restart,
    SessionStore,
    StoreError,
    SupervisorEvent,
)
from core.errors import EvotraderError
from core.trading.messages import (
    Fill,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionSnapshot,
    RiskDecision,
    Side,
)
from tests.actors.live import HOUR, T0, make_batch


@pytest.fixture
def store(tmp_path):
    with SessionStore(tmp_path / "session.sqlite") as opened:
        yield opened


def test_the_same_batch_appended_twice_keeps_the_row_counts(store):
    first = store.append_batch(0, make_batch(0))
    counts = store.counts()
    assert first > 0 and counts["fills"] == 1 and counts["signals"] == 2
    assert store.append_batch(0, make_batch(0)) == 0
    assert store.counts() == counts
    store.append_batch(1, make_batch(1))
    assert store.append_batch(0, make_batch(0)) == 0  # an old batch retried late
    assert store.append_batch(1, make_batch(1)) == 0
    assert store.counts()["fills"] == 2 and store.last_seq() == 1


def test_a_retry_after_reopening_the_file_writes_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    with SessionStore(path) as store:
        store.append_batch(0, make_batch(0))
        counts = store.counts()
    with SessionStore(path) as store:
        assert store.append_batch(0, make_batch(0)) == 0
        assert store.counts() == counts and store.last_seq() == 0


def test_messages_read_back_equal_what_was_written(store):
    batches = [make_batch(k) for k in range(3)]
    for k, batch in enumerate(batches):
        store.append_batch(k, batch)
    for name in ("signals", "order_requests", "risk_decisions", "order_updates", "fills",
                 "risk_events"):
        written = [m for b in batches for m in getattr(b, name)]
        assert sorted(getattr(store, name)(), key=repr) == sorted(written, key=repr), name
    diary = store.diary()
    assert diary[0] == batches[0].diary[0]
    assert np.isnan(diary[1].features[0][1])  # NaN features survive (as JSON NaN)
    assert [s.ms for s in store.latencies()] == [0.5, 0.25, 1.5, 0.25, 2.5, 0.25]
    ts, equity = store.equity()
    assert ts.tolist() == np.concatenate([b.equity_ts for b in batches]).tolist()
    assert equity.tolist() == np.concatenate([b.equity for b in batches]).tolist()


def test_orders_hold_the_newest_status_and_the_verdict(store):
    store.append_batch(0, make_batch(0))
    btc, eth = store.orders()[0], store.orders()[1]
    if btc.symbol != "BTC/USDT":
        btc, eth = eth, btc
    assert (btc.status, btc.filled_quantity, btc.approved, btc.side) == ("FILLED", 0.01, True,
                                                                          "BUY")
    assert btc.updated_ts == T0 + HOUR and btc.ts == T0
    assert (eth.status, eth.approved, eth.deny_reason) == ("DENIED", False, "max_trade_size")
    assert eth.reduce_only is False and eth.stop_loss_pct == 5.0


def test_an_update_recorded_before_its_request_is_completed_later(store):
    coid = "Eorder"
    store.append_batch(0, BatchRecords(order_updates=[
        OrderUpdate(coid, T0 + HOUR, OrderStatus.PARTIALLY_FILLED, 0.5)]))
    (row,) = store.orders()
    assert row.side is None and row.status == "PARTIALLY_FILLED"
    request = OrderRequest(coid, "s", "BTC/USDT", "core", T0, Side.SELL, 1.0, 100.0, -1.0,
                           100.0, True)
    store.append_batch(1, BatchRecords(order_requests=[request], order_updates=[
        OrderUpdate(coid, T0, OrderStatus.ACCEPTED)]))  # an older status does not win
    (row,) = store.orders()
    assert (row.side, row.ts, row.status, row.filled_quantity) == ("SELL", T0,
                                                                    "PARTIALLY_FILLED", 0.5)
    store.append_batch(2, BatchRecords(order_updates=[
        OrderUpdate(coid, T0 + HOUR, OrderStatus.FILLED, 1.0)]))
    assert store.orders()[0].status == "FILLED"


def test_positions_are_those_of_the_latest_snapshot_even_when_an_old_batch_is_retried(store):
    store.append_batch(0, make_batch(0))
    assert [p.position.symbol for p in store.positions()] == ["BTC/USDT"]
    store.append_batch(1, make_batch(1))  # flat again
    assert store.positions() == []
    store.append_batch(0, make_batch(0))
    assert store.positions() == []
    store.append_batch(2, make_batch(2))
    (row,) = store.positions()
    assert row.ts == int(make_batch(2).equity_ts[-1])
    assert row.position == make_batch(2).portfolio[0].positions[0]


def test_equity_arrays_and_snapshots_merge_into_one_row_per_bar(store):
    ts = [T0, T0 + HOUR]
    store.append_batch(0, BatchRecords(equity_ts=ts, equity=[100.0, 101.0]))
    store.append_batch(1, BatchRecords(portfolio=[PortfolioSnapshot(T0 + HOUR, 40.0, 999.0,
                                                                     61.0)]))
    rows = store.portfolio()
    assert [(r.ts, r.cash, r.equity, r.gross_exposure) for r in rows] == [
        (T0, None, 100.0, None), (T0 + HOUR, 40.0, 101.0, 61.0)]  # recorded equity kept


def test_books_are_kept_apart(store):
    store.append_batch(0, make_batch(0))
    store.append_batch(0, make_batch(0, book="candidate:mr-fast"))
    store.append_batch(1, make_batch(1, book="candidate:mr-fast"))
    assert store.books() == ["candidate:mr-fast", "live"]
    assert store.last_seq("live") == 0 and store.last_seq("candidate:mr-fast") == 1
    assert store.last_seq("candidate:none") == NO_SEQ
    assert store.counts("live")["fills"] == 1 and store.counts("candidate:mr-fast")["fills"] == 2
    assert len(store.fills("candidate:mr-fast")) == 2


def test_two_fills_of_one_order_in_one_bar_are_both_kept(store):
    fill = make_batch(0).fills[0]
    store.append_batch(0, BatchRecords(fills=[fill, fill]))
    store.append_batch(0, BatchRecords(fills=[fill, fill]))
    assert store.fills() == [fill, fill]


def test_a_failing_batch_writes_nothing(store):
    store.append_batch(0, make_batch(0))
    counts = store.counts()
    bad = make_batch(1)
    broken = dataclasses.replace(bad.fills[0], price=float("nan"))  # NaN -> NULL -> refused
    with pytest.raises(StoreError, match="fills.price"):
        store.append_batch(1, dataclasses.replace(bad, fills=[broken]))
    assert store.counts() == counts and store.last_seq() == 0


@pytest.mark.parametrize("change, match", [
    ({"equity": [1.0, float("inf"), 1.0]}, "equity is not finite"),
    ({"equity": [1.0]}, "3 equity times for 1 equity values"),
    ({"cash": [1.0, 2.0]}, "3 equity times for 2 cash values"),
    ({"equity_ts": [T0, T0, T0 + HOUR]}, "strictly increase"),
    ({"equity_ts": [0.5, 1.5, 2.5]}, "must be integers"),
    ({"fills": [RiskDecision("x", 0, True)]}, "fills holds a RiskDecision"),
    ({"book": ""}, "book must be"),
])
def test_invalid_records_are_refused(store, change, match):
    with pytest.raises(StoreError, match=match):
        store.append_batch(0, dataclasses.replace(make_batch(0), **change))
    assert store.counts()["batches"] == 0


def test_bad_batch_numbers_and_types_are_refused(store):
    with pytest.raises(StoreError, match="integer >= 0"):
        store.append_batch(-1, make_batch(0))
    with pytest.raises(StoreError, match="expects BatchRecords"):
        store.append_batch(0, {"fills": []})  # type: ignore[arg-type]


def test_supervision_records_are_idempotent(store):
    events = [SupervisorEvent(T0, "trading", "executor", "died", "RayActorError"),
              SupervisorEvent(T0 + 1, "trading", "executor", "restarted")]
    restarts = [Restart("executor", 1, T0 + 1, "died"), Restart("feed", 1, T0 + 5)]
    assert store.append_supervision(events, restarts) == 4
    assert store.append_supervision(events, restarts) == 0
    assert store.supervisor_events() == events and store.restarts() == restarts


def test_a_session_is_recorded_once_and_its_status_changes(store):
    assert store.open_session("s1", config_id="cfg", created_ts=T0, info={"mode": "SIM"})
    assert not store.open_session("s1", config_id="other", created_ts=T0 + 1)
    store.set_status("s1", "stopped", ts=T0 + 9)
    (row,) = store.sessions()
    assert (row.config_id, row.info, row.status, row.status_ts) == ("cfg", {"mode": "SIM"},
                                                                    "stopped", T0 + 9)
    with pytest.raises(StoreError, match="no session 'nope'"):
        store.set_status("nope", "stopped", ts=0)


def test_the_file_is_in_wal_mode_with_a_versioned_schema(tmp_path):
    path = tmp_path / "s.sqlite"
    with SessionStore(path) as store:
        store.append_batch(0, make_batch(0))
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM fills")
    raw.execute("PRAGMA user_version = 7")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 7, newer"):
        SessionStore(path)


def test_a_file_written_with_other_message_fields_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    SessionStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute("ALTER TABLE fills ADD COLUMN venue_trade_id TEXT")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="other message fields.*fills has columns"):
        SessionStore(path)


def test_files_that_are_not_session_stores_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not a session store"):
        SessionStore(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="unusable"):
        SessionStore(garbage)


def test_a_closed_store_raises_a_store_error(tmp_path):
    store = SessionStore(tmp_path / "s.sqlite")
    store.close()
    store.close()
    with pytest.raises(StoreError) as info:
        store.last_seq()
    assert isinstance(info.value, EvotraderError)


def test_numpy_scalars_are_stored_as_numbers(store):
    fill = Fill("E1", "s", "BTC/USDT", "core", np.int64(T0), Side.BUY, np.float64(1.5), 2.0,
                0.1, 0.0)
    snapshot = PortfolioSnapshot(np.int64(T0), 1.0, 2.0, 3.0,
                                 (PositionSnapshot("BTC/USDT", "core", 1.5, 2.0, 2.0, 0.0, 0.0,
                                                   0.0, 0.0, np.int64(T0)),))
    store.append_batch(np.int64(0), BatchRecords(fills=[fill], portfolio=[snapshot]))
    (read,) = store.fills()
    assert type(read.ts) is int and read.ts == T0 and read.quantity == 1.5
    assert store.positions()[0].position.opened_ts == T0


def test_a_reader_in_a_snapshot_does_not_see_batches_committed_meanwhile(tmp_path):
    path = tmp_path / "s.sqlite"
    with SessionStore(path) as writer, SessionStore(path) as reader:
        writer.append_batch(0, make_batch(0))
        with reader.snapshot():
            before = reader.counts()
            writer.append_batch(1, make_batch(1))  # WAL: the writer is not blocked
            assert reader.counts() == before and reader.last_seq() == 0
        assert reader.last_seq() == 1 and reader.counts()["fills"] == 2
