"""The farm on a 3-node Ray cluster on one machine, losing a worker node mid-run.

The cluster (``ray.cluster_utils.Cluster``: a head with no CPUs, so every task runs on one of
two 1-CPU worker nodes; all on this machine with small object stores) lives in a child process
(``python -m tests.actors.research.test_farm_multinode OUT``) so it cannot clash with the
session's single-node Ray, and with its own ``RAY_TMPDIR`` so it never touches the
``ray_current_cluster`` file other Ray users of this machine rely on. A thread in the child
removes one worker node (kills its raylet and workers) once a few genomes have started; Ray
re-runs the lost tasks on the surviving node. The test compares the child's results with a
single-node run of the same candidates in this process: they must be identical.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.actors.research import DemoScorer, as_comparable, make_candidates, make_data

REPO_ROOT = Path(__file__).resolve().parents[3]
N_CANDIDATES, BATCH, WORK_S, KILL_AFTER = 40, 2, 0.1, 10
NODE_STORE = 80 * 1024 * 1024
FAST_NODE_DEATH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                   "health_check_timeout_ms": 500, "health_check_failure_threshold": 3}


@pytest.mark.slow
def test_losing_a_worker_node_mid_run_gives_identical_results(ray_session):
    from actors.research.farm import EvaluationFarm

    ray_tmp = tempfile.mkdtemp(prefix="evt-mn-", dir="/tmp")  # short: unix socket paths
    try:
        out = Path(ray_tmp, "result.json")
        env = {**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_ADDRESS": ""}
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.actors.research.test_farm_multinode", str(out)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        try:
            log, _ = child.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            log, _ = child.communicate()
            pytest.fail(f"multi-node run timed out:\n{log[-4000:]}")
        assert child.returncode == 0, f"multi-node run failed:\n{log[-4000:]}"
        report = json.loads(out.read_text())
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)

    farm = EvaluationFarm(make_data(), DemoScorer(), workers=2, batch_size=BATCH, timeout_s=30)
    single_node = as_comparable(farm.evaluate(make_candidates(N_CANDIDATES, seed=5)))
    assert report["killed_node"], "the worker node was never killed"
    assert report["restarted"], "no genome was re-run: the kill did not hit a running task"
    assert report["nodes_after"] == 2  # head + the surviving worker
    assert report["results"] == single_node
    print(f"multi-node child: {report['seconds']:.1f}s, re-run genomes: {report['restarted']}")


def _run_cluster(out: Path) -> None:
    """Child process: build the cluster, run the farm, kill a worker node mid-run."""
    import ray
    from ray.cluster_utils import Cluster

    from actors.research.farm import EvaluationFarm

    started = time.monotonic()

    def mark(event: str) -> None:
        print(f"[multinode {time.monotonic() - started:6.2f}s] {event}", file=sys.stderr,
              flush=True)
    trace_dir = Path(os.environ["RAY_TMPDIR"], "trace")
    trace_dir.mkdir()
    # Nodes keep Ray's default node address (this machine's interface, traffic stays local):
    # a node bound to 127.0.0.1 cannot be joined, since ray.init rewrites a loopback
    # bootstrap address to the interface address before connecting.
    node_args = {"num_cpus": 1, "object_store_memory": NODE_STORE}
    cluster = Cluster(initialize_head=True, head_node_args={
        **node_args, "num_cpus": 0, "include_dashboard": False,
        "_system_config": FAST_NODE_DEATH})
    report: dict = {"killed_node": False}
    mark("head up")
    try:
        workers = [cluster.add_node(**node_args) for _ in range(2)]
        cluster.wait_for_nodes()
        mark("worker nodes up")
        ray.init(address=cluster.address, namespace="evotrader-multinode")
        mark("driver connected")

        def kill_when_busy() -> None:
            while len(list(trace_dir.iterdir())) < KILL_AFTER:
                time.sleep(0.01)
            victim = _node_running_latest_genome(trace_dir, workers)
            mark("killing a worker node")
            _kill_node(cluster, victim)
            report["killed_node"] = True
            mark("worker node killed")

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        farm = EvaluationFarm(make_data(), DemoScorer(work_s=WORK_S, trace_dir=str(trace_dir)),
                              workers=2, batch_size=BATCH, timeout_s=30, task_retries=3,
                              grace_s=60)
        mark("farm ready")
        results = farm.evaluate(make_candidates(N_CANDIDATES, seed=5))
        mark("farm done")
        killer.join(timeout=30)
        starts = Counter(name.split("-")[0] for name in os.listdir(trace_dir))
        report.update(
            results=as_comparable(results), restarted=sorted(h for h, n in starts.items() if n > 1),
            nodes_after=sum(1 for node in ray.nodes() if node["Alive"]),
            stats=vars(farm.stats), seconds=time.monotonic() - started)
    finally:
        ray.shutdown()
        cluster.shutdown()
        mark("cluster down")
    out.write_text(json.dumps(report))


def _node_processes(node) -> list:
    """The node's processes (raylet, agents) and their children (the Ray workers)."""
    import psutil

    procs = []
    for infos in node.all_processes.values():
        for info in infos:
            try:
                proc = psutil.Process(info.process.pid)
                procs += [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
    return procs


def _node_running_latest_genome(trace_dir: Path, nodes: list):
    """The worker node whose Ray worker started a genome last (so a task is running there)."""
    latest = max(trace_dir.iterdir(), key=lambda path: int(path.name.rsplit("-", 1)[1]))
    pid = int(latest.name.split("-")[1])
    for node in nodes:
        if pid in {proc.pid for proc in _node_processes(node)}:
            return node
    raise AssertionError(f"worker pid {pid} belongs to no worker node")


def _kill_node(cluster, node) -> None:
    """Lose a node as a machine crash would: SIGKILL its raylet and workers at once."""
    import psutil

    for proc in _node_processes(node):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    cluster.remove_node(node, allow_graceful=False)  # reap and forget it


if __name__ == "__main__":
    _run_cluster(Path(sys.argv[1]))
