"""Crashes change nothing: actors killed during a session are restarted, results identical."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
import ray

from actors.adapters.session_store import SessionStore
from actors.live.chaos import ChaosMonkey
from actors.live.tree import SessionNames
from tests.actors.live.sessions import LONG, read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

COMPARED = ("orders.csv", "fills.csv", "positions.csv", "equity.csv", "diary.jsonl",
            "risk_events.jsonl")


def _candidate_fills(folder):
    store = SessionStore(folder / "session.sqlite")
    try:
        return {book: [repr(f) for f in store.fills(book)] for book in store.books()}
    finally:
        store.close()


def test_killing_random_actors_many_times_changes_no_fill(tmp_path, shared_data, baselines):
    loaded = session_config(tmp_path, shared_data, **LONG)
    baseline = baselines.get(**LONG)
    config = loaded.config
    names = SessionNames.build(config.data.symbols, [c.name for c in config.session.candidates])
    targets = [*names.feeds, names.slot, names.guardian, names.executor, names.store,
               *names.candidates, names.session, names.session]
    monkey = ChaosMonkey(targets, ray.get_runtime_context().namespace, kills=8,
                         interval_s=0.4, seed=11)
    started = []

    def start_chaos(seq, _result):
        if seq >= 2 and not started:
            started.append(monkey.start())

    chaotic = run(loaded, "chaos", on_step=start_chaos)
    kills = monkey.stop()
    assert not monkey.errors
    assert len(kills) >= 4, f"only {len(kills)} kills happened before the end"
    assert all(k.restored_s is not None for k in kills), kills
    assert chaotic.stop_reason == "end of data" and chaotic.steps == baseline.steps
    for name in COMPARED:
        assert read(baseline.folder, name) == read(chaotic.folder, name), name
    assert _candidate_fills(baseline.folder) == _candidate_fills(chaotic.folder)
    fills = list(csv.DictReader((chaotic.folder / "fills.csv").open()))
    per_order = Counter(f["client_order_id"] for f in fills)
    assert fills and max(per_order.values()) == 1  # no order doubled
    orders = {o["client_order_id"]: o for o in csv.DictReader(
        (chaotic.folder / "orders.csv").open())}
    assert all(orders[c]["approved"] == "true" for c in per_order)  # only guardian-approved
    # Every kill was restarted by the supervision tree and recorded.
    store = SessionStore(chaotic.folder / "session.sqlite")
    try:
        restarted = Counter(r.actor.rsplit("/", 1)[-1] for r in store.restarts())
    finally:
        store.close()
    killed = Counter(k.actor.rsplit("/", 1)[-1] for k in kills)
    for actor, count in killed.items():
        assert restarted[actor] >= count, (actor, restarted)
    assert "restarts: 0" not in read(chaotic.folder, "session.md").decode()
