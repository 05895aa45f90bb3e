"""Session files: byte-identical exports, fixed columns, strict JSON lines, session.md."""

from __future__ import annotations

import csv
import json

import pytest

from actors.adapters.session_store import BatchRecords, Restart, SessionStore, StoreError
from actors.live.session_files import (
    EQUITY_COLUMNS,
    FILLS_COLUMNS,
    ORDERS_COLUMNS,
    POSITIONS_COLUMNS,
    SESSION_FILES,
    build_summary,
    export_session,
    write_session_md,
)
from core.trading.summary import render_markdown
from tests.actors.live import T0, make_batch


def fill_store(path, seqs=range(4), *, retry=False):
    store = SessionStore(path)
    for seq in seqs:
        store.append_batch(seq, make_batch(seq))
        store.append_batch(seq, make_batch(seq, book="candidate:mr"))
        if retry:
            store.append_batch(seq, make_batch(seq))
    return store


def test_two_stores_fed_the_same_records_export_byte_identical_files(tmp_path):
    one = fill_store(tmp_path / "one.sqlite")
    two = fill_store(tmp_path / "two.sqlite", retry=True)  # retried batches change nothing
    paths_one = export_session(one, tmp_path / "out1")
    paths_two = export_session(two, tmp_path / "out2")
    assert [p.name for p in paths_one] == list(SESSION_FILES)
    for a, b in zip(paths_one, paths_two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
        assert a.stat().st_size > 0
    export_session(one, tmp_path / "out1")  # a second export replaces with the same bytes
    assert [p.read_bytes() for p in paths_one] == [p.read_bytes() for p in paths_two]
    assert sorted(p.name for p in (tmp_path / "out1").iterdir()) == sorted(SESSION_FILES)
    candidate = export_session(one, tmp_path / "cand", book="candidate:mr")
    assert candidate[1].read_bytes() == paths_one[1].read_bytes()  # same records, own book
    one.close()
    two.close()


def test_csv_files_have_fixed_columns_and_round_trip_floats(tmp_path):
    store = fill_store(tmp_path / "s.sqlite", range(3))
    folder = tmp_path / "out"
    export_session(store, folder)
    tables = {}
    for name, columns in (("orders.csv", ORDERS_COLUMNS), ("fills.csv", FILLS_COLUMNS),
                          ("positions.csv", POSITIONS_COLUMNS), ("equity.csv", EQUITY_COLUMNS)):
        with (folder / name).open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == columns
        tables[name] = [dict(zip(columns, r, strict=True)) for r in rows[1:]]
    fills = store.fills()
    assert [float(r["price"]) for r in tables["fills.csv"]] == [f.price for f in fills]
    assert [r["fee"] for r in tables["fills.csv"]] == [repr(f.fee) for f in fills]
    assert [int(r["ts"]) for r in tables["fills.csv"]] == sorted(f.ts for f in fills)
    orders = tables["orders.csv"]
    keys = [(int(r["ts"]), r["client_order_id"]) for r in orders]
    assert keys == sorted(keys) and len(keys) == 6
    by_symbol = {(r["symbol"], r["status"], r["approved"], r["deny_reason"], r["stop_loss_pct"])
                 for r in orders}
    assert by_symbol == {("BTC/USDT", "FILLED", "true", "", ""),
                         ("ETH/USDT", "DENIED", "false", "max_trade_size", "5.0")}
    assert len(tables["equity.csv"]) == 9
    assert tables["equity.csv"][0]["cash"] == ""  # only snapshot bars carry cash
    assert tables["equity.csv"][2]["cash"] == repr(10_000.0)
    (position,) = tables["positions.csv"]
    assert position["symbol"] == "BTC/USDT" and position["quantity"] == "0.01"
    assert (folder / "equity.csv").read_bytes().count(b"\r") == 0


def test_jsonl_files_are_strict_json_sorted_by_time(tmp_path):
    store = fill_store(tmp_path / "s.sqlite", range(2))
    folder = tmp_path / "out"
    export_session(store, folder)

    def strict(text):
        raise ValueError(f"non-standard JSON constant {text}")

    events = [json.loads(line, parse_constant=strict)
              for line in (folder / "risk_events.jsonl").read_text().splitlines()]
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events) and len(events) == 2
    assert list(events[0]) == ["ts", "kind", "reason", "detail", "client_order_id", "symbol",
                               "state"]
    assert events[0]["state"] == "ACTIVE" and events[0]["reason"] == "max_trade_size"
    diary = [json.loads(line, parse_constant=strict)
             for line in (folder / "diary.jsonl").read_text().splitlines()]
    assert diary[0]["features"] == {"z": 0.0, "vol": 1 / 3}
    assert diary[1]["features"] == {"z": None}  # NaN -> null


def test_an_empty_book_exports_headers_only(tmp_path):
    store = SessionStore(tmp_path / "s.sqlite")
    paths = export_session(store, tmp_path / "out", book="candidate:none")
    assert paths[0].read_text() == ",".join(ORDERS_COLUMNS) + "\n"
    assert paths[4].read_bytes() == b""


def test_session_md_is_the_rendered_summary_of_the_store(tmp_path):
    store = fill_store(tmp_path / "s.sqlite", range(2))
    store.append_supervision(restarts=[Restart("executor", 1, T0), Restart("executor", 2, T0),
                                       Restart("feed", 1, T0)])
    summary = build_summary(store, "sess-1", info={"config": "abc"}, data={"venue": "binance"})
    assert summary.fills == 2 and summary.trades == 2 and summary.bars == 6
    assert summary.denials == (("max_trade_size", 2),)
    assert summary.restarts == (("executor", 2), ("feed", 1))
    assert [s.stage for s in summary.latency] == ["signal", "risk"]
    assert summary.latency[0].p50 == 1.0  # median of 0.5 and 1.5
    path = write_session_md(tmp_path / "out", summary)
    assert path.read_text() == render_markdown(summary)
    assert "## Supervision" in path.read_text()


def test_a_store_error_names_the_file_when_the_folder_is_unwritable(tmp_path):
    store = SessionStore(tmp_path / "s.sqlite")
    store.append_batch(0, BatchRecords(equity_ts=[T0], equity=[1.0]))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="session file"):
        export_session(store, blocker / "sub")


def test_a_bad_latency_sample_is_left_out_of_the_summary_not_fatal(tmp_path):
    from actors.adapters.session_store import LatencySample

    store = fill_store(tmp_path / "s.sqlite", range(2))
    store.append_batch(2, BatchRecords(book="live", latencies=(
        LatencySample("ack", -3.0), LatencySample("ack", -0.5), LatencySample("ack", 4.0))))
    summary = build_summary(store, "sess-1")
    ack = next(s for s in summary.latency if s.stage == "ack")
    assert ack.count == 1 and ack.p50 == 4.0
    assert dict(summary.info)["latency samples left out"] == "2 (negative or NaN)"
