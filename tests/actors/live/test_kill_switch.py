"""Kill switch by command, file and signal: HALTED at once, working orders cancelled.

Also SIGTERM: the session stops gracefully after the current step and writes its files.
"""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
import ray

from actors.live.tree import SessionNames
from tests.actors.live.sessions import run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")


FLIPPING_STRATEGY = """[strategy]
name = "momentum"
params = {fast = 1, slow = 2, allow_short = true}
"""


def _names(loaded):
    config = loaded.config
    return SessionNames.build(config.data.symbols, [c.name for c in config.session.candidates])


def _halted_after(folder, source):
    events = [json.loads(line) for line in (folder / "risk_events.jsonl").open()]
    kill = [e for e in events if e["reason"] == f"kill_switch:{source}"]
    assert kill, events[-5:]
    halted_ts = kill[0]["ts"]
    orders = list(csv.DictReader((folder / "orders.csv").open()))
    later = [o for o in orders if int(o["ts"]) > halted_ts and o["kind"] == "signal"]
    assert later, "the strategy kept signalling after the halt"
    assert all(o["approved"] == "false" and o["deny_reason"] == "trading_state_halted"
               for o in later)
    fills = list(csv.DictReader((folder / "fills.csv").open()))
    assert all(int(f["ts"]) <= halted_ts + 3_600_000 for f in fills)
    return kill[0]


def test_kill_switch_command_halts_within_100_ms_and_cancels_working_orders(
        tmp_path, shared_data):
    # A fast cross that flips long/short nearly every bar: most steps end with an order
    # decided at their last close, working until the next step's open.
    loaded = session_config(tmp_path, shared_data, duration="45d", batch_bars=4,
                            candidates=[], extra=FLIPPING_STRATEGY)
    names = _names(loaded)
    namespace = ray.get_runtime_context().namespace
    seen: dict[str, object] = {}

    def actor(name):
        return ray.get_actor(name, namespace=namespace)

    def on_step(seq, _result):
        if "answer" in seen or seq < 3:
            return
        # Freeze the clock between two steps: stop the session actor's process, then let the
        # guardian finish the step it may be running (a repeated request for a step it has
        # done waits for its lock and answers from its reports). Orders submitted at the last
        # bar of that step now stay working until the next step.
        guardian, executor = actor(names.guardian), actor(names.executor)
        pid = ray.get(actor(names.session).pid.remote())
        os.kill(pid, signal.SIGSTOP)
        try:
            done = ray.get(guardian.seq_done.remote())
            ray.get(guardian.process_step.remote(done, 0, 0))
            if ray.get(executor.working_orders.remote()) == 0:
                return
            seen["answer"] = ray.get(guardian.engage_kill_switch.remote("command"))
            seen["working"] = ray.get(executor.working_orders.remote())
            seen["state"] = ray.get(guardian.trading_state.remote())
        finally:
            os.kill(pid, signal.SIGCONT)

    result = run(loaded, "kill-command", on_step=on_step)
    answer = seen["answer"]
    assert answer["cancelled"] >= 1 and seen["working"] == 0 and seen["state"] == "HALTED"
    assert answer["elapsed_ms"] < 100.0, answer
    _halted_after(result.folder, "command")
    orders = list(csv.DictReader((result.folder / "orders.csv").open()))
    assert sum(o["status"] == "CANCELED" for o in orders) >= answer["cancelled"]


def test_kill_switch_file_and_signal_then_sigterm_stops_gracefully(tmp_path, shared_data):
    loaded = session_config(tmp_path, shared_data, duration="45d", batch_bars=24,
                            candidates=[])
    kill_file = loaded.config.guardian.kill_switch_file

    def touch(seq, _result):
        if seq >= 5:
            open(kill_file, "w").close()

    result = run(loaded, "kill-file", on_step=touch)
    _halted_after(result.folder, "file")
    os.remove(kill_file)

    sent: list[str] = []

    def send(seq, _result):
        if seq >= 5 and not sent:
            sent.append("kill switch")
            os.kill(os.getpid(), signal.SIGUSR1)  # kill switch by signal
        if seq >= 300 and len(sent) == 1:
            sent.append("stop")
            os.kill(os.getpid(), signal.SIGTERM)  # graceful stop after this step

    # Paced (one bar a step, 20 ms a bar) so that the signals land mid-session.
    result = run(session_config(tmp_path, shared_data, duration="20d", candidates=[],
                                speed=180_000.0), "kill-signal", on_step=send)
    _halted_after(result.folder, "signal")
    assert result.stop_reason == "SIGTERM" and 300 < result.steps < 480
    summary = (result.folder / "session.md").read_text()
    assert "stopped because: SIGTERM" in summary
    assert (result.folder / "fills.csv").is_file()
