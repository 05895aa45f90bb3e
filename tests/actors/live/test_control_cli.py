"""``status``, ``kill-switch`` and ``stop`` act on a session running in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _env(tmp_path: Path, address: str, shared_data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVOTRADER_")}
    env.update({"EVOTRADER_RAY__ADDRESS": address, "EVOTRADER_RAY__NAMESPACE": "cli-test",
                "EVOTRADER_DATA__DIR": str(shared_data),
                "EVOTRADER_DATA__SYMBOLS": '["BTC/USDT", "ETH/USDT"]',
                "EVOTRADER_SESSION__SESSIONS_DIR": str(tmp_path / "sessions"),
                "EVOTRADER_SESSION__CANDIDATES": "[]",
                "EVOTRADER_GUARDIAN__KILL_SWITCH_FILE": str(tmp_path / "KILL")})
    return env


def _command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "actors.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _start(env: dict[str, str], session_id: str) -> subprocess.Popen[str]:
    # 1h bars at 7200x real time: two bars a second, 30 days last about 6 minutes.
    return subprocess.Popen([sys.executable, "-m", "actors.main", "--duration", "30d",
                             "--speed", "7200", "--session-id", session_id], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_running(env: dict[str, str], process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        status = _command(env, "status")
        if status.returncode == 0 and json.loads(status.stdout[status.stdout.index("{"):]
                                                 )["steps"] >= 3:
            return status.stdout
        time.sleep(1.0)
    raise AssertionError("the session never reported progress")


def test_status_kill_switch_and_stop_from_other_processes(tmp_path, ray_session, shared_data):
    env = _env(tmp_path, ray_session.address, shared_data)
    assert _command(env, "status").returncode == 1  # nothing running yet
    process = _start(env, "cli")
    try:
        status = _wait_running(env, process)
        for actor in ("trading", "guardian", "executor", "slot", "feed-BTC-USDT", "store",
                      "session"):
            assert actor in status
        killed = _command(env, "kill-switch")
        assert killed.returncode == 0 and "trading HALTED" in killed.stdout, killed.stderr
        stopped = _command(env, "stop")
        assert stopped.returncode == 0, stopped.stderr
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    folder = tmp_path / "sessions" / "cli"
    summary = (folder / "session.md").read_text()
    assert "stopped because: stop command" in summary
    events = [json.loads(line) for line in (folder / "risk_events.jsonl").open()]
    assert any(e["reason"] == "kill_switch:command" for e in events)

    assert _command(env, "status").returncode == 1  # the tree is gone again

