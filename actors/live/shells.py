"""The live actors as Ray classes: thin shells, cheap to import, around their services.

A process that obtains an actor handle (``ray.get_actor``, or a handle passed to it) makes
Ray load the actor's class, which imports the module that defines it. A service module
imports what the actor needs to work (numba kernels, pandas, pyarrow): about a second here.
A session actor restarted by its supervisor looks up its peers, a restarted feed its
subscribers: each would pay those imports before its first step. So the Ray classes live
here, in a module that imports nothing heavy: each shell builds its service in its own
constructor (where the actor's process pays the import once) and forwards every remote method
to it. ``tests/actors/live/test_shells.py`` checks that each shell forwards exactly its
service's public methods.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import ray


def _forward(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._service, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


def _watch(self: Any, timeout_s: float) -> str:
    """The supervisor's death watch: answers after ``timeout_s``, fails at once on death."""
    time.sleep(timeout_s)
    return "ok"


_SHELLS: list[type] = []


def _shell(name: str, service: str, methods: tuple[str, ...], doc: str,
           max_concurrency: int) -> Any:
    """The Ray actor class of a shell named ``name`` running ``module:Class`` inside.

    The shell class is defined in this module under ``name`` (Ray pickles it by reference).
    A threaded shell (``max_concurrency`` > 1: a second thread answers heartbeats, pushes,
    the kill switch while a step runs) also has ``watch``, in which one of its threads waits:
    its supervisor notices its death at once (see :class:`supervisors.health.Heartbeat`). The
    store serves one call at a time (one SQLite writer), so it has no watch. Supervisors own
    the restarts (``max_restarts=0``).
    """
    module_name, class_name = service.split(":")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        service_class = getattr(importlib.import_module(module_name), class_name)
        self._service = service_class(*args, **kwargs)

    body: dict[str, Any] = {"__init__": __init__, "__module__": __name__,
                            "__qualname__": name, "__doc__": doc, "service": service,
                            "methods": methods}
    if max_concurrency > 1:
        body["watch"] = _watch
    body.update({method: _forward(method) for method in methods})
    shell = type(name, (), body)
    globals()[name] = shell
    _SHELLS.append(shell)
    return ray.remote(num_cpus=0, max_restarts=0, max_concurrency=max_concurrency)(shell)


MarketFeed = _shell("FeedShell", "actors.live.feed:FeedService",
                    ("connect", "info", "pid", "ping", "publish", "replay", "slice", "stop"),
                    "A market feed (:class:`actors.live.feed.FeedService`).", 4)
StrategySlot = _shell("SlotShell", "actors.live.slot:SlotService",
                      ("bar_counts", "connect", "on_bars", "on_batch", "on_step", "pid", "ping",
                       "stop", "strategy_hash", "strategy_id"),
                      "The active strategy slot (:class:`actors.live.slot.SlotService`).", 8)
RiskGuardian = _shell("GuardianShell", "actors.live.guardian:GuardianService",
                      ("bar_counts", "channel_stats", "connect", "denial_counts",
                       "engage_kill_switch", "finish", "flush", "on_bars", "on_signals", "pid",
                       "ping", "process_step", "seq_done", "started_at", "stop",
                       "trading_state"),
                      "The risk guardian (:class:`actors.live.guardian.GuardianService`).", 8)
Executor = _shell("ExecutorShell", "actors.live.executor:ExecutorService",
                  ("account", "bar_counts", "cancel_all", "events_since", "exchange",
                   "exchange_batch", "exchange_packed", "halt", "on_bars", "pid", "ping",
                   "portfolio", "seq_done", "stop", "working_orders"),
                  "The executor (:class:`actors.live.executor.ExecutorService`).", 8)
VenueExecutor = _shell("VenueExecutorShell", "actors.live.venue_executor:VenueExecutorService",
                       ("account", "bar_counts", "cancel_all", "events_since", "exchange",
                        "exchange_packed", "halt", "on_bars", "pid", "ping", "portfolio",
                        "reconcile_now", "seq_done", "stop", "working_orders"),
                       "The executor on a real venue "
                       "(:class:`actors.live.venue_executor.VenueExecutorService`).", 8)
CandidateTrader = _shell("CandidateShell", "actors.live.candidate:CandidateService",
                         ("bar_counts", "finish", "on_bars", "on_bars_many", "on_batch", "pid",
                          "ping", "status", "stop"),
                         "A paper-trading candidate "
                         "(:class:`actors.live.candidate.CandidateService`).", 8)
StoreActor = _shell("StoreShell", "actors.live.store_actor:StoreService",
                    ("append_batch", "append_latencies", "append_many", "append_supervision",
                     "books", "counts", "export", "flush", "last_seq", "open_session", "pid",
                     "ping", "read", "restarts", "sessions", "set_status", "stop",
                     "supervisor_events", "write_summary"),
                    "The session store's single writer "
                    "(:class:`actors.live.store_actor.StoreService`).", 1)
SessionControl = _shell("ControlShell", "actors.live.control:ControlService",
                        ("change_outcome", "change_requests", "pid", "ping", "progress",
                         "report", "request_change", "request_stop", "resolve_change", "stop",
                         "stop_requested"),
                        "The session's control point "
                        "(:class:`actors.live.control.ControlService`).", 4)
SessionActor = _shell("SessionShell", "actors.live.session_actor:SessionService",
                      ("pid", "ping", "plan", "request_stop", "started_at", "status", "stop"),
                      "The session loop (:class:`actors.live.session_actor.SessionService`).",
                      4)

SHELLS = tuple(_SHELLS)
"""Every shell class (the test checks each against its service)."""

__all__ = ["SHELLS", "CandidateTrader", "Executor", "MarketFeed", "RiskGuardian",
           "SessionActor", "SessionControl", "StoreActor", "StrategySlot", "VenueExecutor"]
