"""StoreActor on the session's real Ray: kill -9 between appends loses no committed row."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import ray
from ray.exceptions import RayActorError

from actors.adapters.session_store import SessionStore, StoreError
from actors.live.shells import StoreActor
from actors.live.store_actor import StoreService
from tests.actors.live import make_batch

pytestmark = pytest.mark.usefixtures("ray_session")


def wait_dead(actor, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get(actor.ping.remote(), timeout=5)
        except RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError("the store actor survived SIGKILL")


def test_kill_9_of_the_store_worker_between_two_appends_loses_no_committed_row(tmp_path):
    path = tmp_path / "session.sqlite"
    first = StoreActor.options(num_cpus=0, max_restarts=0).remote(str(path))
    second = None
    try:
        assert ray.get(first.append_batch.remote(0, make_batch(0))) > 0
        assert ray.get(first.append_batch.remote(1, make_batch(1))) > 0
        counts = ray.get(first.counts.remote())
        pid = ray.get(first.pid.remote())
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        wait_dead(first)

        second = StoreActor.options(num_cpus=0).remote(str(path))  # same file, new process
        assert ray.get(second.ping.remote()) == "ok"
        assert ray.get(second.pid.remote()) != pid
        assert ray.get(second.counts.remote()) == counts
        assert ray.get(second.last_seq.remote()) == 1
        assert ray.get(second.append_batch.remote(1, make_batch(1))) == 0  # driver's retry
        assert ray.get(second.append_batch.remote(2, make_batch(2))) > 0
        assert len(ray.get(second.read.remote("fills"))) == 3
        ray.get(second.stop.remote())
    finally:
        for actor in (first, second):
            if actor is not None:
                ray.kill(actor)
    with SessionStore(path) as store:
        assert store.last_seq() == 2 and len(store.signals()) == 6


def test_the_actor_exports_and_summarises_and_refuses_calls_once_stopped(tmp_path):
    actor = StoreActor.options(num_cpus=0).remote(str(tmp_path / "s.sqlite"))
    try:
        ray.get([actor.append_batch.remote(k, make_batch(k)) for k in range(2)])
        ray.get(actor.flush.remote())
        names = [os.path.basename(p)
                 for p in ray.get(actor.export.remote(str(tmp_path / "out")))]
        assert names[0] == "orders.csv" and len(names) == 6
        md = ray.get(actor.write_summary.remote(str(tmp_path / "out"), "sess"))
        assert Path(md).read_text().startswith("# Session sess (live)\n")
        with pytest.raises(StoreError, match="unknown session store reader"):
            ray.get(actor.read.remote("secrets"))
        ray.get(actor.stop.remote())
        ray.get(actor.stop.remote())
        with pytest.raises(StoreError, match="was stopped"):
            ray.get(actor.ping.remote())
    finally:
        ray.kill(actor)


def test_the_service_works_in_process_too(tmp_path):
    service = StoreService(tmp_path / "s.sqlite")
    assert service.append_batch(0, make_batch(0)) > 0
    assert service.books() == ["live"] and service.read("orders")[0].status in {"FILLED",
                                                                                "DENIED"}
    service.stop()
