"""PAPER on live bars from the Binance emulator (paced, over real HTTP) equals SIM on them."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import ray

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer
from actors.live.book_log import BOOKS_FILE, BookLog
from actors.live.chaos import ChaosMonkey
from actors.live.tree import SessionNames
from core.data.times import parse_time_ms
from core.trading.book_walk import walk_price
from core.trading.messages import Side
from tests.actors.live.sessions import read, run, session_config

MINUTE = 60_000
FIRST_BAR = 1_747_699_200_000  # 2025-05-20 00:00 UTC, the first stored 1m bar
SPEED = 240.0  # one 1m bar every 0.25 s of wall time
SYMBOLS = ("BTC/USDT", "ETH/USDT")
CANDIDATES = [{"name": "mom-fast", "strategy": "momentum",
               "params": {"fast": 3, "slow": 8}}]
STRATEGY = '[strategy]\nname = "momentum"\nparams = { fast = 5, slow = 12 }\n'


@pytest.fixture
def paced_emulator(shared_data: Path):
    store = ParquetStore(shared_data)
    candles = {s: store.read("BINANCE", s, "1m", end_ms=FIRST_BAR + 2000 * MINUTE)
               for s in SYMBOLS}
    config = EmulatorConfig(symbols=SYMBOLS, timeframe="1m", speed=SPEED,
                            start_ms=FIRST_BAR + 600 * MINUTE + 30_000)
    with EmulatorServer(config, candles) as emulator:
        yield emulator


def test_paper_on_the_emulator_trades_exactly_as_sim_on_the_same_bars(
        tmp_path: Path, shared_data: Path, ray_session, paced_emulator: EmulatorServer) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "sim").mkdir()
    paper = session_config(tmp_path / "paper", shared_data, symbols=SYMBOLS, duration="30m",
                           until=None, mode="paper", timeframe="1m", speed=SPEED,
                           exchange_url=paced_emulator.url, candidates=CANDIDATES,
                           extra=STRATEGY, sim_reference=True)
    live = run(paper, "paper")
    assert live.stop_reason == "end of data"
    record = json.loads((live.folder / "state" / "session.json").read_text())["config"]
    start, until = record["session"]["start"], record["session"]["until"]
    assert parse_time_ms(until) - parse_time_ms(start) == 30 * MINUTE
    # the first step is the bar forming on the venue when the session started
    assert parse_time_ms(start) >= FIRST_BAR + 600 * MINUTE
    summary = (live.folder / "session.md").read_text()
    assert f"live binance at {paced_emulator.url}" in summary
    # its SIM reference ran beside it: no drift at all
    parity = summary.split("## Parity with SIM", 1)[1]
    assert "| filled in this session only | 0 |" in parity
    assert "| filled in the SIM reference only | 0 |" in parity
    assert "| fill price drift, max bps | 0.000 |" in parity
    assert "| end equity, session - SIM | 0.000000 (0.000 bps) |" in parity
    assert "within the bound" in parity
    klines = paced_emulator.requests("/api/v3/klines")
    assert klines and all(r.status == 200 for r in klines)
    # the bars usually reach the guardian before the slot's signals: the step's first
    # exchange then goes ahead of them (its own latency stage), and nothing above changed
    ahead = [row for row in summary.split("## Latency", 1)[1].splitlines()
             if row.startswith("| ahead |")]
    assert ahead and int(ahead[0].split("|")[2]) >= 5, summary
    # the SIM reference runs the active policy: the same identity
    (policy,) = re.findall(r"^- policy: ([0-9a-f]{16})$", summary, flags=re.M)
    assert f"| sim-reference | {policy} |" in summary

    sim = session_config(tmp_path / "sim", shared_data, symbols=SYMBOLS, duration="30m",
                         start=start, until=until, timeframe="1m", candidates=CANDIDATES,
                         extra=STRATEGY)
    replay = run(sim, "sim")
    assert read(live.folder, "fills.csv") == read(replay.folder, "fills.csv")
    assert read(live.folder, "orders.csv") == read(replay.folder, "orders.csv")
    assert read(live.folder, "fills.csv").count(b"\n") > 1  # it traded

    def equity(folder: Path) -> list[tuple[str, str]]:
        rows = read(folder, "equity.csv").decode().splitlines()
        return [(r.split(",")[0], r.split(",")[2]) for r in rows]

    assert equity(live.folder) == equity(replay.folder)
    assert len(equity(live.folder)) == 31


def test_paper_fills_walking_the_venues_book_are_replayed_from_their_record(
        tmp_path: Path, shared_data: Path, ray_session, paced_emulator: EmulatorServer) -> None:
    (tmp_path / "paper").mkdir()
    config = session_config(tmp_path / "paper", shared_data, symbols=SYMBOLS,
                            duration="30m", until=None, mode="paper", timeframe="1m",
                            speed=SPEED, exchange_url=paced_emulator.url, candidates=[],
                            extra=STRATEGY, exchange_extra='paper_fills = "order_book"',
                            sim_reference=True)
    names = SessionNames.build(SYMBOLS, [])
    monkey = ChaosMonkey([names.executor], ray.get_runtime_context().namespace)
    kills: list[int] = []

    def kill_after_three_books(seq: int, result) -> None:  # their fills are replayed
        path = Path(result.folder) / "state" / BOOKS_FILE
        if not kills and path.exists() and len(path.read_bytes().splitlines()) >= 3:
            monkey.kill(names.executor, "SIGKILL")
            kills.append(seq)

    result = run(config, "paper", on_step=kill_after_three_books)
    assert result.stop_reason == "end of data" and kills
    books = BookLog(result.folder / "state")
    orders = {o["client_order_id"]: o for o in csv.DictReader(
        read(result.folder, "orders.csv").decode().splitlines())}
    fills = list(csv.DictReader(read(result.folder, "fills.csv").decode().splitlines()))
    assert fills, "the session did not trade"
    for fill in fills:
        book = books.get(fill["client_order_id"])
        assert book is not None and orders[fill["client_order_id"]]["reason"] == "order_book"
        side = Side(fill["side"])
        assert float(fill["price"]) == walk_price(book, side, float(fill["quantity"]))
    depth = paced_emulator.requests("/api/v3/depth")
    # One book per order: the replay read none of the 3+ recorded books again. A kill that
    # lands between a book's answer and its durable record costs one more read (that order
    # was never sent: its exchange runs again and reads a new book).
    assert len(fills) <= len(depth) <= len(fills) + len(kills)
    summary = (result.folder / "session.md").read_text()
    assert "## Parity with SIM" in summary  # the book's prices against the fill model


def test_a_venue_that_stops_listing_bars_stops_the_feeds_and_trips_stale_data(
        tmp_path: Path, shared_data: Path, ray_session, paced_emulator: EmulatorServer) -> None:
    # after a few good bars every klines request fails: no bar closes any more
    paced_emulator.add_fault({"kind": "http_5xx", "endpoint": "/api/v3/klines", "nth": 30,
                              "count": 1_000_000, "status": 503})
    (tmp_path / "paper").mkdir()
    config = session_config(tmp_path / "paper", shared_data, symbols=SYMBOLS,
                            duration="30m", until=None, mode="paper", timeframe="1m",
                            speed=SPEED, exchange_url=paced_emulator.url, candidates=[],
                            extra=STRATEGY, session_extra="bar_timeout_s = 1.5")
    result = run(config, "paper")
    events = [json.loads(line) for line in
              (result.folder / "risk_events.jsonl").read_text().splitlines()]
    errors = [e for e in events if e["kind"] == "feed_error"]
    assert errors and all("no answer from the venue" in e["detail"] for e in errors)
    stale = {e["symbol"]: e["ts"] for e in events if e["reason"] == "stale_data"}
    assert set(stale) == {e["symbol"] for e in errors}
    for order in csv.DictReader(read(result.folder, "orders.csv").decode().splitlines()):
        if order["symbol"] in stale and int(order["ts"]) >= stale[order["symbol"]]:
            assert order["approved"] == "false"  # nothing traded on a silent venue
    assert (result.folder / "session.md").exists()


def test_a_venue_that_never_lists_a_bar_stops_the_session_with_the_reason(
        tmp_path: Path, shared_data: Path, ray_session, paced_emulator: EmulatorServer) -> None:
    paced_emulator.add_fault({"kind": "http_5xx", "endpoint": "/api/v3/klines", "nth": 1,
                              "count": 1_000_000, "status": 503})
    (tmp_path / "paper").mkdir()
    config = session_config(tmp_path / "paper", shared_data, symbols=SYMBOLS,
                            duration="30m", until=None, mode="paper", timeframe="1m",
                            speed=SPEED, exchange_url=paced_emulator.url, candidates=[],
                            extra=STRATEGY, session_extra="bar_timeout_s = 1.0")
    result = run(config, "paper")  # ends: no crash loop on a feed without a first bar
    assert result.stop_reason.startswith("feed ") and "stopped before its first bar" in \
        result.stop_reason
    assert "503" in result.stop_reason
    assert (result.folder / "session.md").exists()
