"""No guardian, no orders: while the risk guardian is down nothing reaches the executor."""

from __future__ import annotations

import csv
import time

import pytest
import ray

from actors.live.tree import SessionNames
from tests.actors.live.sessions import read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")


def test_killing_the_guardian_stops_orders_and_restarts_its_executor(tmp_path, shared_data):
    loaded = session_config(tmp_path, shared_data, duration="30d", batch_bars=12,
                            candidates=[])
    names = SessionNames.build(loaded.config.data.symbols, [])
    namespace = ray.get_runtime_context().namespace
    seen: dict[str, float | int | list] = {}

    def actor(name):
        return ray.get_actor(name, namespace=namespace)

    def on_step(seq, _result):
        if seq >= 5 and "killed_at" not in seen:
            seen["executor_pid"] = ray.get(actor(names.executor).pid.remote())
            seen["killed_at"] = time.time()
            seen["killed_seq"] = seq
            ray.kill(actor(names.guardian), no_restart=True)
        elif "calls" not in seen and "killed_at" in seen and seq >= seen["killed_seq"] + 3:
            seen["guardian_started"] = ray.get(actor(names.guardian).started_at.remote())
            seen["executor_pid_after"] = ray.get(actor(names.executor).pid.remote())
            seen["calls"] = ray.get(actor(names.executor).call_log.remote())

    result = run(loaded, "guardian-down", on_step=on_step)
    baseline = run(loaded, "guardian-up")
    # rest_for_one: the executor (started after the guardian) was restarted with it ...
    assert seen["executor_pid_after"] != seen["executor_pid"]
    assert seen["guardian_started"] > seen["killed_at"]
    # ... and received nothing between the kill and the new guardian.
    calls = seen["calls"]
    assert calls and all(at >= seen["guardian_started"] for _, at, _ in calls)
    assert not [c for c in calls if seen["killed_at"] <= c[1] < seen["guardian_started"]]
    for name in ("orders.csv", "fills.csv", "equity.csv"):
        assert read(result.folder, name) == read(baseline.folder, name), name
    fills = list(csv.DictReader((result.folder / "fills.csv").open()))
    assert len({f["client_order_id"] for f in fills}) == len(fills)
    assert "guardian" in read(result.folder, "session.md").decode()
