"""The CLI is a client: a session outlives it, and outlives its whole Ray cluster via ``resume``.

Real processes only: ``python -m actors.main`` subprocesses against the shared test cluster,
and for ``resume`` a cluster of its own started with ``ray start --head`` and then killed
whole. ``ray stop --force`` would also kill the test suite's own cluster, so the test kills
every process of *its* cluster with SIGKILL instead (the same end for that cluster).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import ray

from actors.adapters.session_store import SessionStore
from actors.live.session_actor import result_path
from actors.live.tree import PREFIX, ROOT
from supervisors.naming import supervisor_actor_name
from tests.actors.live.sessions import read, run, session_config

REPO = Path(__file__).resolve().parents[3]
TRADING_FILES = ("orders.csv", "fills.csv", "positions.csv", "diary.jsonl")
ALL_FILES = (*TRADING_FILES, "equity.csv", "risk_events.jsonl")
CANDIDATES = [{"name": "meanrev", "strategy": "mean_reversion"}]


def _env(address: str, namespace: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVOTRADER_")}
    env.update({"EVOTRADER_RAY__ADDRESS": address, "EVOTRADER_RAY__NAMESPACE": namespace,
                **extra})
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actors.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _last_seq(folder: Path) -> int:
    path = folder / "session.sqlite"
    if not path.is_file():
        return -1
    try:
        store = SessionStore(path)
    except Exception:  # noqa: BLE001 - being created
        return -1
    try:
        return store.last_seq("live")
    finally:
        store.close()


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _tree_gone(namespace: str) -> bool:
    try:
        ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=namespace)
    except ValueError:
        return True
    return False


def test_a_session_outlives_its_cli_killed_or_detached(tmp_path, ray_session, shared_data):
    session_config(tmp_path, shared_data, duration="5d", candidates=CANDIDATES)
    config_file = str(tmp_path / "session.toml")
    namespace = "detach-test"
    env = _env(ray_session.address, namespace)
    sessions = tmp_path / "sessions"
    # Foreground, paced (20 ms a bar): the CLI is SIGKILLed mid-session.
    foreground = subprocess.Popen(
        [sys.executable, "-m", "actors.main", "--config", config_file, "--speed", "180000",
         "--session-id", "fg"], cwd=REPO, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _last_seq(sessions / "fg") >= 20, 120, "the foreground session")
        foreground.send_signal(signal.SIGKILL)
        foreground.wait(timeout=30)
        status = _cli(env, "status", "--config", config_file)
        assert status.returncode == 0, status.stderr
        assert "session" in status.stdout and "phase" in status.stdout
        _wait(lambda: result_path(sessions / "fg").exists(), 180, "the orphaned session's end")
    finally:
        if foreground.poll() is None:
            foreground.kill()
    assert (sessions / "fg" / "session.md").is_file()
    _wait(lambda: _tree_gone(namespace), 60, "the finished tree to shut down")
    # Detached, as fast as possible: the command returns at once, the session completes.
    detached = _cli(env, "--config", config_file, "--detach", "--session-id", "det")
    assert detached.returncode == 0, detached.stderr
    assert "detached" in detached.stdout and "resume det" in detached.stdout
    assert not result_path(sessions / "det").exists()  # it returned while the session runs
    _wait(lambda: result_path(sessions / "det").exists(), 180, "the detached session's end")
    for name in TRADING_FILES:
        assert read(sessions / "fg", name) == read(sessions / "det", name), name
    _wait(lambda: _tree_gone(namespace), 60, "the detached tree to shut down")
    assert _cli(env, "status", "--config", config_file).returncode == 1  # nothing runs


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class OwnCluster:
    """A ``ray start --head`` cluster in its own temp dir, killable whole."""

    def __init__(self, temp_dir: Path) -> None:
        self.temp_dir = temp_dir
        gcs, client, agent, grpc, metrics, env_agent, dashboard = _free_ports(7)
        self.address = f"127.0.0.1:{gcs}"
        self.args = ["ray", "start", "--head", "--node-ip-address=127.0.0.1",
                     f"--port={gcs}", f"--temp-dir={temp_dir}", "--num-cpus=2",
                     f"--object-store-memory={200 * 1024 * 1024}", "--include-dashboard=false",
                     f"--ray-client-server-port={client}",
                     f"--dashboard-agent-listen-port={agent}",
                     f"--dashboard-agent-grpc-port={grpc}", f"--metrics-export-port={metrics}",
                     f"--runtime-env-agent-port={env_agent}", f"--dashboard-port={dashboard}",
                     "--disable-usage-stats"]

    def start(self) -> None:
        """Start it; once more if Ray's fixed 30-s node start-up wait ran out (a busy machine:
        the suite's own cluster runs beside it), after removing what the first try left."""
        exe = str(Path(sys.executable).with_name("ray"))
        for _ in range(2):
            done = subprocess.run([exe, *self.args[1:]], capture_output=True, text=True,
                                  timeout=180, check=False)
            if done.returncode == 0 or "timed out during startup" not in done.stderr:
                break
            self.kill()
        assert done.returncode == 0, done.stderr[-2000:]

    def processes(self) -> list[psutil.Process]:
        found = []
        marker = str(self.temp_dir)
        for process in psutil.process_iter(["cmdline"]):
            try:
                if any(marker in part for part in process.info["cmdline"] or ()):
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def kill(self) -> int:
        """SIGKILL every process of this cluster (what ``ray stop --force`` does to it)."""
        victims = self.processes()
        for process in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(victims, timeout=30)
        return len(victims)


@pytest.mark.slow
def test_resume_after_the_whole_cluster_died_gives_the_same_files(
        tmp_path, ray_session, shared_data):
    loaded = session_config(tmp_path, shared_data, duration="6d", candidates=CANDIDATES,
                            batch_bars=1)
    baseline = run(loaded, "undisturbed")
    config_file = str(tmp_path / "session.toml")
    cluster = OwnCluster(Path(f"/tmp/evotrader-resume-{os.getpid()}"))
    env = _env(cluster.address, "resume-test", RAY_AUTH_MODE="token")
    sessions = tmp_path / "sessions"
    cluster.start()
    try:
        started = _cli(env, "--config", config_file, "--speed", "72000", "--detach",
                       "--session-id", "crash")
        assert started.returncode == 0, started.stderr
        _wait(lambda: _last_seq(sessions / "crash") >= 30, 120, "the session to trade")
        assert cluster.kill() > 3
        assert not result_path(sessions / "crash").exists()
        stopped_at = _last_seq(sessions / "crash")
        assert stopped_at < 6 * 24 - 1
        cluster.start()
        resumed = _cli(env, "resume", "crash", "--config", config_file, timeout=300)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "resumed session crash" in resumed.stdout
    finally:
        cluster.kill()
    assert result_path(sessions / "crash").exists()
    for name in ALL_FILES:
        assert read(baseline.folder, name) == read(sessions / "crash", name), name
    again = _cli(env, "resume", "crash", "--config", config_file, timeout=60)
    assert again.returncode == 2 and "already finished" in again.stderr
