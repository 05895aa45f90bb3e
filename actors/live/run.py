"""The command line as a client of the session: start, follow, attach, resume.

The stepping loop runs in the session actor under the root supervisor (see
:mod:`actors.live.session_actor`); this module plans a session, starts its tree and then only
follows it: a progress bar in SIM (bars/s, simulated time), a live line of equity, positions
and trading state when paced. Ctrl-C (SIGINT) and SIGTERM ask the session to stop
gracefully, SIGUSR1 engages the kill switch; ``--detach`` returns at once and leaves the
session to the cluster. ``resume`` restarts the tree of a session whose cluster went away;
every actor continues from its checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from actors.governance.apply import apply_ledger
from actors.live.calls import SessionError
from actors.live.follow import ProgressView
from actors.live.live_plan import LIVE_MODES, fix_live_window
from actors.live.plan import (
    SessionPlan,
    new_session_id,
    plan_session,
    read_resume_record,
    write_resume_record,
)
from actors.live.policies import session_policies, write_policies_record
from actors.live.session_actor import result_path
from actors.live.shells import SessionActor
from actors.live.tree import PREFIX, ROOT, build_tree
from actors.live.tree_handle import root_supervisor, stop_tree
from actors.research.ray_runtime import RayHandle, connect
from configs.app import AppConfig
from configs.loader import LoadedConfig
from configs.secrets import SECRET_ENV_VARS
from core.errors import EvotraderError, UsageError
from supervisors import start_supervisor

GCS_TASK_EVENTS_ENV = "RAY_task_events_max_num_task_in_gcs"
GCS_TASK_EVENTS = 10_000
"""Task events a local Ray keeps (Ray's default 100,000 costs hundreds of MB in the GCS)."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
KILL_SWITCH_SIGNAL = signal.SIGUSR1
POLL_S = 0.2
GONE_GRACE_S = 20.0
"""How long a follower waits for a vanished session tree before calling it lost."""


@dataclass
class SessionResult:
    """What a session left behind (or has done so far, for progress hooks).

    Attributes:
        session_id: Its id.
        folder: ``runs/sessions/<id>/``.
        steps: Steps completed.
        bars: Bars replayed (timeline bars x symbols).
        elapsed_s: Wall time of the stepping loop (summed over the session actor's lives).
        stop_reason: Why it ended ("end of data", "stop command", "SIGINT", ...).
        retries: Calls retried per actor name (actors that were down).
        latency_ms: Per stage, latency percentiles (``p50``, ``p99``, ...; HdrHistogram).
    """

    session_id: str
    folder: Path
    steps: int = 0
    bars: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = ""
    retries: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_status(cls, folder: Path, status: dict[str, Any]) -> SessionResult:
        """From a session actor's ``status()`` or its ``result.json``."""
        return cls(session_id=str(status["session_id"]), folder=folder,
                   steps=int(status.get("steps", 0)), bars=int(status.get("bars", 0)),
                   elapsed_s=float(status.get("elapsed_s", 0.0)),
                   stop_reason=str(status.get("stop_reason", "")),
                   retries=dict(status.get("retries", {})),
                   latency_ms=dict(status.get("latency_ms", {})))


StepHook = Callable[[int, SessionResult], None]
KEY_VARS = (SECRET_ENV_VARS["exchange_api_key"], SECRET_ENV_VARS["exchange_api_secret"])
"""What a venue executor needs in its environment."""


# --- the cluster ---------------------------------------------------------------------------

def connect_cluster(config: AppConfig, *, detach: bool = False) -> RayHandle:
    """Join the configured cluster, else a running local one, else start a local Ray.

    A local Ray binds to loopback with the dashboard on 127.0.0.1:8265. With ``detach`` a
    local Ray must outlive this process, so it is started as a ``ray start --head`` daemon.
    """
    ray_cfg = config.ray
    if ray.is_initialized():  # reuse this process's connection (tests, scripts)
        return connect(None, namespace=ray_cfg.namespace)
    if ray_cfg.address not in (None, "local"):
        return connect(ray_cfg.address, namespace=ray_cfg.namespace)
    if ray_cfg.address is None:
        with contextlib.suppress(EvotraderError):
            return connect("auto", namespace=ray_cfg.namespace)
    memory = (ray_cfg.object_store_memory_mb * 1024 * 1024
              if ray_cfg.object_store_memory_mb else None)
    # Ray keeps the events of the last 100,000 tasks in the GCS for the dashboard; a session
    # makes ~10 actor calls per step, so that store is what grows in a long session.
    os.environ.setdefault(GCS_TASK_EVENTS_ENV, str(GCS_TASK_EVENTS))
    if detach:
        start_local_daemon(config)
        return connect("auto", namespace=ray_cfg.namespace)
    return connect(None, num_cpus=ray_cfg.num_cpus, object_store_memory=memory,
                   namespace=ray_cfg.namespace, include_dashboard=True)


def start_local_daemon(config: AppConfig) -> None:
    """``ray start --head`` on loopback (a cluster that outlives this process).

    Raises:
        EvotraderError: ``ray`` is not on the PATH or the start failed.
    """
    ray_cfg = config.ray
    exe = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    command = [exe, "start", "--head", "--node-ip-address=127.0.0.1",
               f"--dashboard-host={ray_cfg.dashboard_host}", "--disable-usage-stats"]
    if ray_cfg.num_cpus:
        command.append(f"--num-cpus={ray_cfg.num_cpus}")
    if ray_cfg.object_store_memory_mb:
        command.append(f"--object-store-memory={ray_cfg.object_store_memory_mb * 1024 * 1024}")
    print("starting a local Ray cluster for the detached session: " + " ".join(command[1:]),
          flush=True)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EvotraderError(f"cannot start a local Ray cluster: {exc}") from exc
    if done.returncode != 0:
        raise EvotraderError("`ray start --head` failed: " + (done.stderr or done.stdout)[-800:])


# --- starting a tree ------------------------------------------------------------------------

def _start_tree(plan: SessionPlan) -> Any:
    """Start the supervision tree with the session actor as its last child.

    Raises:
        UsageError: Another session's tree is alive in this namespace.
    """
    ns = plan.inputs.namespace
    if root_supervisor(ns) is not None:
        raise UsageError(f"a session is already running in Ray namespace {ns!r}; follow it "
                         "with `python -m actors.main attach` or stop it with "
                         "`python -m actors.main stop`")

    if plan.inputs.venue_execution is not None:
        check_cluster_env(KEY_VARS)

    def session_factory(name: str) -> Any:
        return SessionActor.options(name=name, namespace=ns, lifetime="detached", num_cpus=0,
                                    max_restarts=0).remote(plan)

    spec = build_tree(plan.inputs, plan.names, session_factory=session_factory)
    return start_supervisor(spec, prefix=PREFIX, namespace=ns)


@ray.remote(num_cpus=0)
def _env_present(names: tuple[str, ...]) -> tuple[bool, ...]:
    """Which of ``names`` are set in a worker's environment (never their values)."""
    return tuple(bool(os.environ.get(name)) for name in names)


def check_cluster_env(names: tuple[str, ...]) -> None:
    """Refuse to start when the cluster's workers lack environment variables (the keys).

    The venue executor reads its keys from its own process's environment, i.e. the
    environment ``ray start`` ran in, not this command's. Without them it could never start
    and its supervisor would restart it until the session gave up; say so now instead.

    Raises:
        UsageError: Naming the missing variables (exit 2).
    """
    present = ray.get(_env_present.remote(names), timeout=60)
    missing = [name for name, ok in zip(names, present, strict=True) if not ok]
    if missing:
        raise UsageError(f"the Ray cluster's workers have no {' and '.join(missing)} in their "
                         "environment (the executor reads the keys there): start Ray with "
                         "them set, e.g. `EVOTRADER_EXCHANGE_API_KEY=... "
                         "EVOTRADER_EXCHANGE_API_SECRET=... ray start --head`")


def _plan(loaded: LoadedConfig, session_id: str) -> SessionPlan:
    config = loaded.config
    folder = (Path(config.session.sessions_dir) / session_id).resolve()
    expected = (ray.get_runtime_context().namespace if ray.is_initialized()
                else config.ray.namespace)
    return plan_session(loaded, session_id, folder, expected)


def _in_namespace(plan: SessionPlan) -> SessionPlan:
    namespace = ray.get_runtime_context().namespace
    if namespace != plan.inputs.namespace:
        plan.inputs = dataclasses.replace(plan.inputs, namespace=namespace)
    return plan


# --- following ------------------------------------------------------------------------------

class _Follower:
    """Polls the session actor until its result is written; forwards signals to it."""

    def __init__(self, plan: SessionPlan, *, quiet: bool, on_step: StepHook | None,
                 stop_on_interrupt: bool) -> None:
        self.plan = plan
        self.folder = Path(plan.folder)
        self._quiet, self._on_step = quiet, on_step
        self._stop_on_interrupt = stop_on_interrupt
        self._handle: Any = None
        self._detached = threading.Event()
        self._seen = -1

    def _session(self) -> Any:
        if self._handle is None:
            self._handle = ray.get_actor(self.plan.names.session,
                                         namespace=self.plan.inputs.namespace)
        return self._handle

    def request_stop(self, reason: str) -> None:
        """Ask the session to stop after its current step (the control actor keeps it)."""
        with contextlib.suppress(Exception):
            control = ray.get_actor(self.plan.names.control,
                                    namespace=self.plan.inputs.namespace)
            ray.get(control.request_stop.remote(reason), timeout=10)
        with contextlib.suppress(Exception):
            ray.get(self._session().request_stop.remote(reason), timeout=10)

    def kill_switch(self) -> None:
        """Engage the kill switch at the guardian (from a signal)."""
        with contextlib.suppress(Exception):
            guardian = ray.get_actor(self.plan.names.guardian,
                                     namespace=self.plan.inputs.namespace)
            ray.get(guardian.engage_kill_switch.remote("signal"), timeout=30)

    def follow(self) -> SessionResult | None:
        """Until the session's result exists; None when the user detached.

        Raises:
            SessionError: The tree went away without finishing (resume it).
        """
        view = None if self._quiet else ProgressView(self.plan)
        restore = self._install_signals()
        gone_since: float | None = None
        try:
            while not self._detached.is_set():
                result = _read_result(self.folder)
                if result is not None:
                    if view is not None:
                        view.close(result)
                    return SessionResult.from_status(self.folder, result)
                try:
                    status = ray.get(self._session().status.remote(), timeout=10)
                    gone_since = None
                except Exception:  # noqa: BLE001 - restarting, or the tree is gone
                    self._handle = None
                    gone_since = gone_since or time.monotonic()
                    self._check_tree(time.monotonic() - gone_since)
                    time.sleep(POLL_S)
                    continue
                if view is not None:
                    view.update(status)
                steps = int(status.get("steps", 0))
                if self._on_step is not None and steps - 1 > self._seen and steps > 0:
                    self._seen = steps - 1
                    self._on_step(steps - 1, SessionResult.from_status(self.folder, status))
                time.sleep(POLL_S)
            return None
        finally:
            restore()

    def _check_tree(self, unreachable_s: float) -> None:
        """Raise once the session cannot come back: its tree is gone or gave up.

        Raises:
            SessionError: The root supervisor is gone (for :data:`GONE_GRACE_S`), or it
                escalated or stopped without the session's result (a child kept failing).
        """
        session_id = self.plan.inputs.session_id
        resume = f"`python -m actors.main resume {session_id}`"
        root = root_supervisor(self.plan.inputs.namespace)
        if root is None:
            if unreachable_s > GONE_GRACE_S:
                raise SessionError(f"session {session_id} is no longer running and did not "
                                   f"finish; continue it with {resume}")
            return
        try:
            state = ray.get(root.status.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the root is being restarted: look again later
            return
        if state not in ("escalated", "stopped") or _read_result(self.folder) is not None:
            return
        detail = ""
        with contextlib.suppress(Exception):
            events = ray.get(root.events.remote(0), timeout=10)
            detail = next((f": {e.detail}" for e in reversed(events)
                           if str(e.kind) == "escalated"), "")
        raise SessionError(f"session {session_id} failed: its supervision tree {state}"
                           f"{detail}; the actors' logs say why; once the cause is fixed, "
                           f"continue it with {resume} (after `python -m actors.main stop`)")

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (*STOP_SIGNALS, KILL_SWITCH_SIGNAL)}

        def on_stop(number: int, _frame: Any) -> None:
            name = signal.Signals(number).name
            if self._stop_on_interrupt or number != signal.SIGINT:
                print(f"\n{name}: stopping after the current step (state is flushed, "
                      "session.md written)", file=sys.stderr, flush=True)
                threading.Thread(target=self.request_stop, args=(name,), daemon=True).start()
            else:
                print("\ndetached: the session keeps running (`python -m actors.main attach` "
                      "to follow it again)", file=sys.stderr, flush=True)
                self._detached.set()

        for sig in STOP_SIGNALS:
            signal.signal(sig, on_stop)
        signal.signal(KILL_SWITCH_SIGNAL, lambda _n, _f: threading.Thread(
            target=self.kill_switch, daemon=True).start())

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return restore


def _read_result(folder: Path) -> dict[str, Any] | None:
    path = result_path(folder)
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _wait_tree_gone(namespace: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while root_supervisor(namespace) is not None and time.monotonic() < deadline:
        time.sleep(POLL_S)
    stop_tree(namespace)


# --- entry points ---------------------------------------------------------------------------

def run_session(loaded: LoadedConfig, *, session_id: str | None = None,
                on_step: StepHook | None = None, quiet: bool = False,
                detach: bool = False) -> SessionResult | None:
    """Start a SIM session on the cluster and follow it to its end (or detach at once).

    Args:
        loaded: The configuration (``[session]``, ``[data]``, ``[strategy]``, ...).
        session_id: Folder/session id (default: time + config id).
        on_step: Called from this process as steps complete (it may skip steps: the
            follower polls).
        quiet: Print nothing.
        detach: Return once the tree is started; the session runs on without this process.

    Returns:
        The result, or None when detached.

    Raises:
        UsageError: Bad configuration for a session (mode, data, window), or a session is
            already running in the namespace.
        SessionError: The session's tree went away without finishing.
    """
    if loaded.config.app.mode in LIVE_MODES:
        loaded = fix_live_window(loaded)  # recorded as fixed: resume plans the same steps
    loaded, notes = apply_ledger(loaded)  # recorded as applied: resume runs the same policies
    for note in notes if not quiet else ():
        print(f"governance: {note}", file=sys.stderr)
    session_id = session_id or new_session_id(loaded.config_id)
    plan = _plan(loaded, session_id)  # data errors before Ray starts
    session_policies(plan.inputs)  # a ledger policy that would not run as recorded: exit 2
    handle = connect_cluster(loaded.config, detach=detach)
    try:
        plan = _in_namespace(plan)
        folder = Path(plan.folder)
        if result_path(folder).exists() or (folder / "state" / "session.json").exists():
            raise UsageError(f"session folder {folder} already holds a session; resume it "
                             f"with `python -m actors.main resume {session_id}` or pick "
                             "another --session-id")
        write_resume_record(folder, loaded, session_id)
        write_policies_record(folder, plan.inputs)
        return _start_and_follow(plan, quiet=quiet, on_step=on_step, detach=detach,
                                 verb="session")
    finally:
        handle.shutdown()


def resume_session(config: AppConfig, session_id: str, *, quiet: bool = False,
                   on_step: StepHook | None = None, detach: bool = False
                   ) -> SessionResult | None:
    """Continue a session whose tree went away (e.g. ``ray stop --force``).

    Raises:
        UsageError: Unknown session, already finished, or still running.
    """
    folder = (Path(config.session.sessions_dir) / session_id).resolve()
    loaded, recorded_id = read_resume_record(folder)
    finished = _read_result(folder)
    if finished is not None:
        raise UsageError(f"session {session_id} already finished ({finished['stop_reason']}); "
                         f"its files are in {folder}")
    plan = plan_session(loaded, recorded_id, folder, loaded.config.ray.namespace)
    write_policies_record(folder, plan.inputs)
    handle = connect_cluster(config, detach=detach)
    try:
        plan = _in_namespace(plan)
        return _start_and_follow(plan, quiet=quiet, on_step=on_step, detach=detach,
                                 verb="resumed session")
    finally:
        handle.shutdown()


def attach_session(config: AppConfig, *, quiet: bool = False) -> SessionResult | None:
    """Follow the session running in the configured namespace; Ctrl-C detaches again.

    Raises:
        UsageError: No session is running there.
    """
    handle = connect_cluster_existing(config)
    try:
        namespace = ray.get_runtime_context().namespace
        plan = _running_plan(namespace)
        result = _Follower(plan, quiet=quiet, on_step=None, stop_on_interrupt=False).follow()
        if result is not None:  # finished: its tree shuts down (a Ctrl-C leaves it running)
            _wait_tree_gone(namespace)
        return result
    finally:
        handle.shutdown()


def connect_cluster_existing(config: AppConfig) -> RayHandle:
    """Join a running cluster (never start one).

    Raises:
        UsageError: No cluster is reachable.
    """
    try:
        return connect(config.ray.address or "auto", namespace=config.ray.namespace)
    except EvotraderError as exc:
        raise UsageError(f"no running Ray cluster to reach: {exc}") from exc


def _running_plan(namespace: str) -> SessionPlan:
    from actors.live.tree import SESSION_CHILD
    from supervisors.naming import child_actor_name

    try:
        session = ray.get_actor(child_actor_name(PREFIX, ROOT, SESSION_CHILD),
                                namespace=namespace)
        return ray.get(session.plan.remote(), timeout=30)
    except Exception as exc:  # noqa: BLE001 - not there, or not answering
        raise UsageError(f"no session is running in Ray namespace {namespace!r} "
                         f"({type(exc).__name__})") from None


def _start_and_follow(plan: SessionPlan, *, quiet: bool, on_step: StepHook | None,
                      detach: bool, verb: str) -> SessionResult | None:
    config = plan.inputs.config
    namespace = plan.inputs.namespace
    _start_tree(plan)
    session_id = plan.inputs.session_id
    if not quiet:
        live = plan.inputs.live
        print(f"{verb} {session_id}: {len(plan.timeline):,} bars x "
              f"{len(config.data.symbols)} symbols, strategy {live.alpha or live.strategy}, "
              f"{len(plan.inputs.candidates)} candidates; actors in Ray namespace "
              f"{namespace!r}; folder {plan.folder}", flush=True)
    if detach:
        if not quiet:
            print(f"detached: follow with `python -m actors.main attach`, stop with "
                  f"`python -m actors.main stop`; after a crash of the whole cluster: "
                  f"`python -m actors.main resume {session_id}`", flush=True)
        return None
    follower = _Follower(plan, quiet=quiet, on_step=on_step, stop_on_interrupt=True)
    try:
        result = follower.follow()
    except SessionError:
        stop_tree(namespace)  # what is left of a tree that gave up
        raise
    finally:
        _wait_tree_gone(namespace)
    if not quiet and result is not None:
        print((Path(plan.folder) / "session.md").read_text())
    return result


__all__ = ["SessionError", "SessionResult", "attach_session", "connect_cluster",
           "resume_session", "run_session"]
