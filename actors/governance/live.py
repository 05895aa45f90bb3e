"""A decision reaches the running session: the policy swap request and its outcome.

After ``promote`` or ``rollback`` has written the ledger, :func:`swap_running_session` looks
for a session in the configured Ray namespace. None running: the decision waits for the next
session (it trades the ledger's active policy). One running: its control actor gets a swap
request, and the session answers with the step from which it trades the policy (or why it
cannot: other trading rules, the end of its window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray

from actors.live.names import PREFIX, ROOT
from actors.research.ray_runtime import connect
from configs.app import AppConfig
from core.errors import EvotraderError
from core.governance.policy import PolicySpec
from supervisors.naming import child_actor_name

CONTROL = child_actor_name(PREFIX, f"{ROOT}/ops", "control")
"""The Ray name of a session's control actor."""


def swap_running_session(config: AppConfig, spec: PolicySpec, reason: str, *,
                         positions: str = "keep", timeout_s: float = 60.0,
                         not_before_seq: int | None = None,
                         drift: Callable[[], str] = lambda: ""
                         ) -> dict[str, Any] | None:
    """Ask the running session to trade ``spec`` from its next step boundary.

    ``drift`` gives the policy's drift model (JSON; "" = none; asked only when a session
    runs): the session's sentry watches the policy with it from the swap on.

    Returns:
        None when no session runs; else the outcome (``status`` ``applied`` with
        ``from_seq`` and ``ts``, ``rejected`` with ``reason``, or ``unconfirmed`` when the
        session did not answer within ``timeout_s``).
    """
    try:
        handle = connect(config.ray.address or "auto", namespace=config.ray.namespace)
    except EvotraderError:
        return None
    try:
        try:
            control = ray.get_actor(CONTROL, namespace=config.ray.namespace)
        except ValueError:
            return None
        request = {"spec": spec.canonical_json(), "reason": reason, "positions": positions,
                   "not_before_seq": not_before_seq, "drift": drift()}
        request_id = ray.get(control.request_swap.remote(request), timeout=30)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            outcome = ray.get(control.swap_outcome.remote(request_id), timeout=30)
            if outcome is not None:
                return outcome
            time.sleep(0.05)
        return {"status": "unconfirmed",
                "reason": f"the session did not answer within {timeout_s:g} s"}
    except ray.exceptions.RayError as exc:
        return {"status": "unconfirmed", "reason": f"the session went away: {exc}"}
    finally:
        handle.shutdown()
