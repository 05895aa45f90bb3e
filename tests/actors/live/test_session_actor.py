"""The session actor under supervision: killed many times, the session ends with the same files."""

from __future__ import annotations

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


def test_killing_the_session_actor_many_times_changes_no_file(tmp_path, shared_data,
                                                              baselines):
    loaded = session_config(tmp_path, shared_data, **LONG)
    baseline = baselines.get(**LONG)
    names = SessionNames.build(loaded.config.data.symbols, ["meanrev"])
    monkey = ChaosMonkey([names.session], ray.get_runtime_context().namespace, kills=5,
                         interval_s=0.3, seed=3)
    started: list[ChaosMonkey] = []

    def start(seq, _result):
        if seq >= 1 and not started:
            started.append(monkey.start())

    chaotic = run(loaded, "killed", on_step=start)
    kills = monkey.stop()
    assert not monkey.errors, monkey.errors
    assert len(kills) >= 3 and {k.method for k in kills} == {"ray.kill", "SIGKILL"}, kills
    assert all(k.restored_s is not None and k.new_pid != k.old_pid for k in kills), kills
    assert chaotic.stop_reason == "end of data" and chaotic.steps == baseline.steps
    for name in COMPARED:
        assert read(baseline.folder, name) == read(chaotic.folder, name), name
    stores = [SessionStore(r.folder / "session.sqlite") for r in (baseline, chaotic)]
    try:
        restarted = Counter(r.actor.rsplit("/", 1)[-1] for r in stores[1].restarts())
        book = "candidate:meanrev"
        assert [repr(f) for f in stores[0].fills(book)] == [repr(f) for f in stores[1].fills(
            book)]
        assert stores[0].equity(book)[1].tolist() == stores[1].equity(book)[1].tolist()
    finally:
        for store in stores:
            store.close()
    assert restarted["session"] >= len(kills), restarted
