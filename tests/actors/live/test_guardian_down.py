"""No guardian, no orders: while the risk guardian is down nothing reaches the executor.

The executor's account (the last bar its venue processed, cash, positions, working orders,
events produced) changes only when an exchange reaches it. A probe samples it from the kill of
the guardian until the new guardian has started: the executor killed with it (rest_for_one)
and its successor must not change while no guardian runs, and the successor trades again once
the new guardian does.
"""

from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest
import ray

from actors.live.tree import SessionNames
from tests.actors.live.sessions import SHORT, read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")


@dataclass
class ExecutorProbe:
    """Samples ``(wall time the call was sent, pid, account)`` of the executor until told to
    stop."""

    name: str
    namespace: str
    samples: list[tuple[float, int, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, daemon=True, name="executor-probe")
        thread.start()
        return thread

    def _run(self) -> None:
        handle = None  # looked up again only when a call fails (the executor restarted)
        while not self.done.is_set():
            try:
                if handle is None:
                    handle = ray.get_actor(self.name, namespace=self.namespace)
                sent = time.time()
                pid, account = ray.get([handle.pid.remote(), handle.account.remote()],
                                       timeout=2.0)
                self.samples.append((sent, int(pid), account))
            except Exception:  # noqa: BLE001 - being stopped or restarted
                handle = None
            self.done.wait(0.002)


def _wait_gone(pid: int, timeout_s: float = 30.0) -> None:
    """Until the process ``pid`` has exited (Ray reports a killed actor dead before that)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} still runs {timeout_s:g} s after ray.kill")


def _fingerprint(account: Any) -> tuple:
    return (account.index, account.last_event, account.cash, account.positions,
            account.working)


def test_killing_the_guardian_stops_orders_and_restarts_its_executor(tmp_path, shared_data,
                                                                     baselines):
    loaded = session_config(tmp_path, shared_data, **SHORT)
    names = SessionNames.build(loaded.config.data.symbols, ["meanrev"])
    namespace = ray.get_runtime_context().namespace
    probe = ExecutorProbe(names.executor, namespace)
    seen: dict[str, Any] = {}

    def actor(name):
        return ray.get_actor(name, namespace=namespace)

    def on_step(seq, _result):
        if seq >= 5 and "killed_at" not in seen:
            seen["executor_pid"] = ray.get(actor(names.executor).pid.remote())
            guardian = actor(names.guardian)
            seen["guardian_pid"] = ray.get(guardian.pid.remote())
            # the guardian's own step, not the follower's (which lags): steps up to it are
            # answered again from the journal, with no new exchange
            seen["killed_seq"] = ray.get(guardian.seq_done.remote())
            seen["thread"] = probe.start()
            seen["killed_at"] = time.time()
            ray.kill(guardian, no_restart=True)
            _wait_gone(seen["guardian_pid"])
            seen["dead_at"] = time.time()
        elif "after" not in seen and "killed_at" in seen and seq >= seen["killed_seq"] + 3:
            seen["guardian_started"] = ray.get(actor(names.guardian).started_at.remote())
            seen["guardian_pid_after"] = ray.get(actor(names.guardian).pid.remote())
            seen["after"] = ray.get(actor(names.executor).account.remote())
            probe.done.set()
            seen["thread"].join(10)

    result = run(loaded, "guardian-down", on_step=on_step)
    baseline = baselines.get(**SHORT)
    probe.done.set()
    assert "after" in seen, "the session ended before the probe finished"
    dead_at, started = seen["dead_at"], seen["guardian_started"]
    assert seen["guardian_pid_after"] != seen["guardian_pid"] and started > seen["killed_at"]
    # While no guardian ran (from its confirmed death to the start of its successor), neither
    # the executor killed with it nor its successor processed anything.
    down = [(pid, _fingerprint(a)) for at, pid, a in probe.samples if dead_at <= at < started]
    pids = {pid for pid, _ in down}
    assert len(down) >= 5 and len(pids) >= 1, probe.samples[:5]
    for pid in pids:
        states = {state for p, state in down if p == pid}
        assert len(states) == 1, (pid, sorted(states))
    # rest_for_one: the executor (started after the guardian) was restarted with it, and the
    # new one trades again once the new guardian runs.
    final_pid = probe.samples[-1][1]
    assert final_pid != seen["executor_pid"]
    before = [state for pid, state in down if pid == final_pid]
    if before:
        assert _fingerprint(seen["after"]) != before[-1]
    assert seen["after"].index > 0
    for name in ("orders.csv", "fills.csv", "equity.csv"):
        assert read(result.folder, name) == read(baseline.folder, name), name
    fills = list(csv.DictReader((result.folder / "fills.csv").open()))
    assert len({f["client_order_id"] for f in fills}) == len(fills)
    assert "guardian" in read(result.folder, "session.md").decode()
