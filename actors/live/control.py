"""SessionControl: the session's switchboard (ops subtree).

It holds what other processes need to reach a running session: the stop request
(``python -m actors.main stop``), change requests (``scripts/promote.py`` while the session
runs: a policy swap of the active slot, a candidate added or removed) and their outcomes,
progress for ``status``, and it exports the session's latency and heartbeat counters through
Ray's metrics (Prometheus format on the node's metrics endpoint, shown in the Ray dashboard).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ray.util.metrics import Counter, Gauge, Histogram

LATENCY_BOUNDARIES_MS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000, 5000]


class ControlService:
    """Stop flag, progress and metrics of one session.

    Args:
        session_id: The session this control belongs to.
    """

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._lock = threading.Lock()
        self._stop_reason = ""
        self._changes: dict[str, dict[str, Any]] = {}
        self._outcomes: dict[str, dict[str, Any]] = {}
        self._progress: dict[str, Any] = {"session_id": session_id, "seq": -1}
        tags = ("session",)
        self._latency = Histogram("evotrader_latency_ms", description="Stage latency of a "
                                  "SIM step, ms (signal, risk, order, journal, ack)",
                                  boundaries=LATENCY_BOUNDARIES_MS, tag_keys=(*tags, "stage"))
        self._heartbeats = Counter("evotrader_heartbeats_total", description="Steps "
                                   "acknowledged by the trading pipeline", tag_keys=tags)
        self._equity = Gauge("evotrader_equity", description="Live book equity (quote)",
                             tag_keys=tags)
        self._tags = {"session": session_id}

    def ping(self) -> str:
        """Heartbeat."""
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker."""
        return os.getpid()

    def request_stop(self, reason: str = "stop command") -> None:
        """Ask the session to stop gracefully after the current step."""
        with self._lock:
            self._stop_reason = self._stop_reason or reason

    def stop_requested(self) -> str:
        """Why a stop was requested ("" when none was)."""
        return self._stop_reason

    def request_change(self, request: dict[str, Any]) -> str:
        """Ask the session for a change at its next step boundary.

        Args:
            request: ``kind`` (``swap``: ``spec`` — the policy's canonical JSON —, ``reason``,
                ``positions``, ``drift``; ``candidate_add``: ``name``, ``spec``, ``drift``,
                ``reason``; ``candidate_remove``: ``name``, ``reason``), optionally
                ``not_before_seq``.

        Returns:
            The request id (:meth:`change_outcome` answers once the session decided).
        """
        with self._lock:
            request_id = (f"{request.get('kind', 'swap')}-"
                          f"{len(self._changes) + len(self._outcomes) + 1}-{os.getpid()}")
            self._changes[request_id] = {"kind": "swap", **request, "id": request_id}
            return request_id

    def change_requests(self) -> list[dict[str, Any]]:
        """The requests the session has not decided yet, oldest first."""
        with self._lock:
            return list(self._changes.values())

    def resolve_change(self, request_id: str, outcome: dict[str, Any]) -> None:
        """The session's decision on a request (``status`` applied or rejected)."""
        with self._lock:
            self._changes.pop(request_id, None)
            self._outcomes[request_id] = outcome

    def change_outcome(self, request_id: str) -> dict[str, Any] | None:
        """The decision on a request (None while it is pending)."""
        with self._lock:
            return self._outcomes.get(request_id)

    def report(self, progress: dict[str, Any], latencies_ms: dict[str, float]
               ) -> tuple[str, int]:
        """Record a step's progress and latencies.

        Returns:
            The stop reason ("" = go on) and how many change requests wait.
        """
        with self._lock:
            self._progress = {"session_id": self.session_id, **progress}
        for stage, value in latencies_ms.items():
            self._latency.observe(value, tags={**self._tags, "stage": stage})
        self._heartbeats.inc(1.0, tags=self._tags)
        if "equity" in progress:
            self._equity.set(float(progress["equity"]), tags=self._tags)
        with self._lock:
            return self._stop_reason, len(self._changes)

    def progress(self) -> dict[str, Any]:
        """The last reported progress (for ``status``)."""
        with self._lock:
            return dict(self._progress)

    def stop(self) -> None:
        """Nothing to flush."""
