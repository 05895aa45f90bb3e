"""Feeds publish: every subscriber gets each step's bars pushed; a restarted one catches up."""

from __future__ import annotations

import time

import pytest
import ray

from actors.live.tree import SessionNames
from tests.actors.live.sessions import LONG, read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")


def test_subscribers_receive_pushes_and_a_restarted_one_replays(tmp_path, shared_data,
                                                                baselines):
    loaded = session_config(tmp_path, shared_data, **LONG)
    names = SessionNames.build(loaded.config.data.symbols, ["meanrev"])
    namespace = ray.get_runtime_context().namespace
    seen: dict[str, object] = {}

    def counts(name, wait_s=0.0):
        # A killed actor answers again once its supervisor has restarted it (seconds on a
        # loaded machine); the session does not wait for that while the slot is ahead.
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return ray.get(ray.get_actor(name, namespace=namespace).bar_counts.remote(),
                               timeout=30)
            except (ValueError, ray.exceptions.RayActorError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def done():
        return ray.get(ray.get_actor(names.guardian, namespace=namespace).seq_done.remote())

    def probe(seq, _result):
        if seq >= 3 and "before" not in seen:
            seen["before"] = {n: counts(n) for n in (names.slot, names.guardian,
                                                     names.executor, *names.candidates)}
            ray.kill(ray.get_actor(names.slot, namespace=namespace), no_restart=True)
            seen["killed_at"] = done()  # the session went on while the probe asked
        elif "after" not in seen and "killed_at" in seen and seq >= seen["killed_at"] + 3:
            seen["after"] = counts(names.slot, wait_s=90.0)
            deadline = time.monotonic() + 30.0  # the feeds find the successor on a push
            while seen["after"]["accepted"] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
                seen["after"] = counts(names.slot)
            # Then a feed dies: once restarted, it must push again (not leave every
            # subscriber to replay every later step from it).
            ray.kill(ray.get_actor(names.feeds[0], namespace=namespace), no_restart=True)
            seen["feed_killed_at"] = done()
        elif "feed_killed_at" in seen and "settled" not in seen and (
                seq >= seen["feed_killed_at"] + 6):
            seen["settled"] = counts(names.guardian, wait_s=90.0)
            seen["settled_at"] = done()
        elif "settled" in seen and "later" not in seen and seq >= seen["settled_at"] + 6:
            seen["later"] = counts(names.guardian)

    result = run(loaded, "published", on_step=probe)
    assert "later" in seen, f"the session ended before the probe was done: {seen}"
    baseline = baselines.get(**LONG)
    for name, stats in seen["before"].items():
        # two feeds, one slice per step each (and the next step's, published ahead); the
        # candidates' pushes are conflated (what accumulated, every 250 ms)
        least = 1 if name in names.candidates else 2 * 3
        assert stats["accepted"] >= least, (name, stats)
        assert stats["replays"] == 0 and stats["gaps"] == 0, (name, stats)
    after = seen["after"]
    assert after["accepted"] > 0 and after["replays"] >= 1, after  # the missed step replayed
    settled, later = seen["settled"], seen["later"]
    assert later["accepted"] > settled["accepted"], (settled, later)
    assert later["replays"] == settled["replays"], (settled, later)  # pushed, not replayed
    for name in ("orders.csv", "fills.csv", "equity.csv", "diary.jsonl", "risk_events.jsonl"):
        assert read(result.folder, name) == read(baseline.folder, name), name
