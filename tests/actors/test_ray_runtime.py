"""ray_runtime.connect: start a capped local Ray, join a running one, stop only what we started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import ray

from actors.research.ray_runtime import connect
from core.errors import EvotraderError

REPO_ROOT = Path(__file__).resolve().parents[2]


@ray.remote(num_cpus=1)
def _answer() -> int:
    return 42


def _run_child(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter at the repo root; it prints one JSON line last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_session_ray_is_local_and_capped(ray_session):
    assert ray_session.started
    resources = ray.cluster_resources()
    assert resources["CPU"] == 2
    assert resources["object_store_memory"] <= 210 * 1024 * 1024


def test_joining_the_running_cluster_leaves_it_running(ray_session):
    joined = connect(ray_session.address)
    assert not joined.started and joined.address == ray_session.address
    joined.shutdown()
    joined.shutdown()  # harmless twice
    assert ray.is_initialized()
    assert ray.get(_answer.remote()) == 42
    assert not connect("auto").started


def test_another_process_joins_and_its_shutdown_leaves_the_cluster_up(ray_session):
    report = _run_child(f"""
        import json, ray
        from actors.research.ray_runtime import connect
        handle = connect({ray_session.address!r})
        nodes = len(ray.nodes())
        handle.shutdown()
        print(json.dumps({{"started": handle.started, "nodes": nodes}}))
    """)
    assert report == {"started": False, "nodes": 1}
    assert ray.get(_answer.remote()) == 42


def test_an_unreachable_address_is_a_clear_error():
    port = _free_port()
    with pytest.raises(EvotraderError, match=f"127.0.0.1:{port} is unreachable"):
        connect(f"127.0.0.1:{port}")


@pytest.mark.parametrize("address", ["no-port-here", "host:", ":123", "host:port"])
def test_a_malformed_address_is_a_clear_error(address):
    with pytest.raises(EvotraderError, match="invalid Ray address"):
        connect(address)


def test_joining_another_cluster_while_connected_is_refused(ray_session):
    with socket.socket() as listener:  # something listens, but it is not our cluster
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(EvotraderError, match="already connected"):
            connect(f"127.0.0.1:{port}")


def test_a_started_local_instance_is_stopped_by_its_handle():
    # A stale RAY_ADDRESS must not make address=None join some other cluster.
    report = _run_child("""
        import json, socket, ray
        from actors.research.ray_runtime import connect
        handle = connect(None, num_cpus=1, object_store_memory=80 * 1024 * 1024)
        host, port = handle.address.rsplit(":", 1)
        cpus = ray.cluster_resources()["CPU"]
        handle.shutdown()
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            listening = True
        except OSError:
            listening = False
        print(json.dumps({"started": handle.started, "cpus": cpus,
                          "initialized": ray.is_initialized(), "listening": listening}))
    """, RAY_ADDRESS="127.0.0.1:1")
    assert report == {"started": True, "cpus": 1.0, "initialized": False, "listening": False}
