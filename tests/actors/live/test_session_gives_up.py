"""A session that cannot go on ends its CLI with an error (never a follower waiting forever).

A session actor that fails at every start (here: its checkpoint is corrupt) is restarted
until its supervisors' restart intensity is exceeded; the tree escalates and the root stays,
stopped, so that ``status`` can show why. The follower (``run``, ``resume``, ``attach``) must
see that and fail with the escalation's cause; ``stop`` removes what is left of a detached
one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from actors.live.run import SessionError, resume_session
from actors.live.session_actor import result_path
from actors.live.tree import PREFIX, ROOT
from configs.loader import load_config
from core.errors import UsageError
from supervisors.naming import supervisor_actor_name
from tests.actors.live.sessions import run, session_config

REPO = Path(__file__).resolve().parents[3]


def _root(namespace: str):
    try:
        return ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=namespace)
    except ValueError:
        return None


def _broken_session(tmp_path: Path, shared_data: Path, session_id: str):
    """A finished session made unfinished, with a session checkpoint that cannot be read."""
    session_config(tmp_path, shared_data, duration="3d", batch_bars=24)
    path = tmp_path / "session.toml"  # a low restart intensity: the tree gives up sooner
    path.write_text(path.read_text().replace("[session]\n", "[session]\nmax_restarts = 1\n"))
    loaded = load_config(path, env={})
    folder = run(loaded, session_id).folder
    result_path(folder).unlink()  # as if its cluster had died before the end
    checkpoint = folder / "state" / "session.ckpt"
    assert checkpoint.is_file()
    checkpoint.write_bytes(b"not a checkpoint")
    return loaded, folder


@pytest.mark.timeout(300)
def test_a_tree_that_gave_up_is_reported_and_removed(tmp_path, ray_session, shared_data):
    loaded, folder = _broken_session(tmp_path, shared_data, "gives-up")
    namespace = ray.get_runtime_context().namespace
    # Detached: the tree gives up with nobody following; `stop` removes what is left.
    resume_session(loaded.config, "gives-up", quiet=True, detach=True)
    deadline = time.monotonic() + 240
    root = _root(namespace)
    while ray.get(root.status.remote(), timeout=30) != "escalated":
        assert time.monotonic() < deadline, "the tree never gave up"
        time.sleep(0.2)
    with pytest.raises(UsageError, match="already running"):
        resume_session(loaded.config, "gives-up", quiet=True)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVOTRADER_")}
    env.update({"EVOTRADER_RAY__ADDRESS": ray_session.address,
                "EVOTRADER_RAY__NAMESPACE": namespace})
    stopped = subprocess.run([sys.executable, "-m", "actors.main", "stop"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert stopped.returncode == 0, stopped.stderr
    assert "gave up" in stopped.stdout and "resume" in stopped.stdout
    assert _root(namespace) is None
    # Followed: the follower fails with the escalation's cause and removes the rest.
    with pytest.raises(SessionError, match="escalated") as caught:
        resume_session(loaded.config, "gives-up", quiet=True)
    assert "resume gives-up" in str(caught.value)
    assert _root(namespace) is None
    assert not result_path(folder).exists()
