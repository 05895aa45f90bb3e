"""``status``, ``stop`` and ``kill-switch``: act on the session running in the cluster.

They join the cluster (``[ray] address``, else the one ``ray start`` runs on this machine),
find the session's named actors and call them; they never start Ray themselves.
"""

from __future__ import annotations

import json
import time
from typing import Any

import ray

from actors.live.follow import status_line
from actors.live.names import PREFIX, ROOT, SessionNames
from actors.live.tree_handle import stop_tree
from actors.research.ray_runtime import connect
from configs.app import AppConfig
from core.errors import EvotraderError
from supervisors.naming import child_actor_name, supervisor_actor_name


class NoSessionError(EvotraderError):
    """No session is running where the command looked."""

    exit_code = 1


def _actor(name: str, namespace: str) -> Any:
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        raise NoSessionError(f"no running session found (actor {name!r} is not in Ray "
                             f"namespace {namespace!r})") from None


def _remove_dead_tree(namespace: str) -> int:
    """``stop`` when the session's actors are gone but its root supervisor is not.

    A tree whose children kept failing escalates: the root stops them and stays, so that
    ``status`` can show why. ``stop`` then removes it (the session's files and checkpoints
    stay, for ``resume``).

    Raises:
        NoSessionError: There is no tree either.
    """
    if not stop_tree(namespace):
        raise NoSessionError(f"no running session found (no supervision tree in Ray "
                             f"namespace {namespace!r})")
    print("the session's actors had stopped (its supervision tree gave up); removed what was "
          "left of the tree: `python -m actors.main resume ID` continues the session")
    return 0


def _gave_up(namespace: str) -> bool:
    """True when the session's root supervisor escalated or stopped (the tree gave up)."""
    try:
        root = ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=namespace)
        return ray.get(root.status.remote(), timeout=30) in ("escalated", "stopped")
    except (ValueError, ray.exceptions.RayError):
        return False


def report_reconciliation(executor: Any, adopt: bool = False) -> int:
    """Reconcile the venue with the book now (adopting its state with ``adopt``).

    Returns:
        0 when they agree (afterwards), 1 when they do not.
    """
    try:
        pending = executor.reconcile_now.remote(adopt)
    except AttributeError:
        print("this session trades on the paper client (SIM or PAPER): there is no venue "
              "account to reconcile")
        return 0
    report = ray.get(pending, timeout=120)
    for line in report.get("adopted", []):
        print(f"  adopted: {line}")
    if not report["differences"]:
        state = (f" (trading halted: {report['halted']})" if report["halted"]
                 else " (trading resumes)" if report.get("resumed") else "")
        print("venue and book agree" + state)
        return 0
    print(f"{len(report['differences'])} difference(s) between the venue and the book; "
          f"new orders are refused ({report['halted']}):")
    for line in report["differences"]:
        print(f"  - {line}")
    return 1


def run_control(command: str, config: AppConfig, adopt: bool = False) -> int:
    """Run ``status``, ``stop``, ``kill-switch`` or ``reconcile``; returns the exit code.

    Raises:
        NoSessionError: No cluster or no session.
    """
    try:
        handle = connect(config.ray.address or "auto", namespace=config.ray.namespace)
    except EvotraderError as exc:
        raise NoSessionError(f"no running Ray cluster to reach: {exc}") from exc
    namespace = config.ray.namespace
    try:
        names = SessionNames.build([], [])
        if command == "status":
            root = _actor(supervisor_actor_name(PREFIX, ROOT), namespace)
            tree = ray.get(root.tree.remote(), timeout=30)
            print(tree.render() if hasattr(tree, "render") else tree)
            try:
                session = _actor(names.session, namespace)
                status = ray.get(session.status.remote(), timeout=30)
                status.pop("latency_ms", None)
                print(status_line(status))
                print(json.dumps(status, indent=2, default=str))
            except (NoSessionError, ray.exceptions.RayError) as exc:
                control = _actor(child_actor_name(PREFIX, f"{ROOT}/ops", "control"), namespace)
                print(f"session actor not answering ({type(exc).__name__}); last progress:")
                print(json.dumps(ray.get(control.progress.remote(), timeout=30), indent=2))
            return 0
        if command == "stop":
            if _gave_up(namespace):  # its children may still answer while they are stopped
                return _remove_dead_tree(namespace)
            try:
                control = _actor(child_actor_name(PREFIX, f"{ROOT}/ops", "control"), namespace)
                ray.get(control.request_stop.remote("stop command"), timeout=30)
            except (NoSessionError, ray.exceptions.RayActorError):
                # no control actor, or one that died under us (a tree that gave up stops
                # its children while it escalates): remove what is left of the tree
                return _remove_dead_tree(namespace)
            print("stop requested: the session finishes its current step, flushes its state "
                  "and writes session.md")
            return 0
        if command == "reconcile":
            return report_reconciliation(_actor(names.executor, namespace), adopt)
        guardian = _actor(names.guardian, namespace)
        started = time.perf_counter()
        answer = ray.get(guardian.engage_kill_switch.remote("command"), timeout=30)
        print(f"kill switch engaged: trading HALTED, {answer['cancelled']} working order(s) "
              f"cancelled in {(time.perf_counter() - started) * 1e3:.1f} ms")
        return 0
    finally:
        handle.shutdown()
