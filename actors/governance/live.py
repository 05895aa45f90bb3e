"""A decision reaches the running session: the policy swap request and its outcome.

After ``promote``, ``rollback`` or ``candidate add|remove`` has written the ledger,
:func:`ask_running_session` looks for a session in the configured Ray namespace. None
running: the decision waits for the next session (it trades the ledger's active policy and
candidates). One running: its control actor gets the change requests (a swap of the active
slot, a candidate added or removed), and the session answers each with the step from which it
holds (or why it cannot: other trading rules, no free candidate slot, the end of its window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from actors.governance.promotion import Decision
from actors.live.names import PREFIX, ROOT
from actors.live.plan import ledger_candidate_name
from actors.research.ray_runtime import connect
from configs.app import AppConfig
from core.errors import EvotraderError
from core.governance.ledger import latest_spec
from core.governance.policy import PolicySpec
from supervisors.naming import child_actor_name

CONTROL = child_actor_name(PREFIX, f"{ROOT}/ops", "control")
"""The Ray name of a session's control actor."""


def ask_running_session(config: AppConfig,
                        requests: Callable[[], list[dict[str, Any]]], *,
                        timeout_s: float = 60.0) -> list[dict[str, Any]] | None:
    """Send change requests to the running session and wait for its decisions.

    ``requests`` builds them (called only when a session runs: a drift model takes seconds to
    learn), each a dict as :meth:`~actors.live.control.ControlService.request_change` takes it
    (``kind`` ``swap``, ``candidate_add`` or ``candidate_remove``); the session decides them
    in order at its next step boundary.

    Returns:
        None when no session runs; else one outcome per request (``status`` ``applied`` with
        ``from_seq`` and ``ts``, ``rejected`` with ``reason``, or ``unconfirmed`` when the
        session did not answer within ``timeout_s``).
    """
    try:
        handle = connect(config.ray.address or "auto", namespace=config.ray.namespace)
    except EvotraderError:
        return None
    asked: list[dict[str, Any]] = []
    try:
        try:
            control = ray.get_actor(CONTROL, namespace=config.ray.namespace)
        except ValueError:
            return None
        asked = requests()
        ids = [ray.get(control.request_change.remote(r), timeout=30) for r in asked]
        deadline = time.monotonic() + timeout_s
        outcomes: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline and len(outcomes) < len(ids):
            for request_id in ids:
                if request_id not in outcomes:
                    outcome = ray.get(control.change_outcome.remote(request_id), timeout=30)
                    if outcome is not None:
                        outcomes[request_id] = outcome
            if len(outcomes) < len(ids):
                time.sleep(0.05)
        late = {"status": "unconfirmed",
                "reason": f"the session did not answer within {timeout_s:g} s"}
        return [outcomes.get(i, late) for i in ids]
    except ray.exceptions.RayError as exc:
        gone = {"status": "unconfirmed", "reason": f"the session went away: {exc}"}
        return [gone for _ in asked] or [gone]
    finally:
        handle.shutdown()


def swap_request(spec: PolicySpec, reason: str, *, positions: str = "keep",
                 not_before_seq: int | None = None, drift: str = "") -> dict[str, Any]:
    """The request that swaps the active slot to ``spec`` (``drift``: its model's JSON)."""
    return {"kind": "swap", "spec": spec.canonical_json(), "reason": reason,
            "positions": positions, "not_before_seq": not_before_seq, "drift": drift}


def candidate_add_request(spec: PolicySpec, reason: str, drift: str = "") -> dict[str, Any]:
    """The request that makes ``spec`` a candidate of the running session."""
    return {"kind": "candidate_add", "name": ledger_candidate_name(spec.hash),
            "spec": spec.canonical_json(), "reason": reason, "drift": drift}


def candidate_remove_request(policy_hash: str, reason: str) -> dict[str, Any]:
    """The request that stops the running session's candidate of ``policy_hash``."""
    return {"kind": "candidate_remove", "name": ledger_candidate_name(policy_hash),
            "reason": reason}


def swap_running_session(config: AppConfig, spec: PolicySpec, reason: str, *,
                         positions: str = "keep", timeout_s: float = 60.0,
                         not_before_seq: int | None = None,
                         drift: Callable[[], str] = lambda: ""
                         ) -> dict[str, Any] | None:
    """Ask the running session to trade ``spec`` from its next step boundary.

    ``drift`` gives the policy's drift model (JSON; "" = none; asked only when a session
    runs): the session's sentry watches the policy with it from the swap on.

    Returns:
        None when no session runs, else the outcome (see :func:`ask_running_session`).
    """
    outcomes = ask_running_session(config, lambda: [swap_request(
        spec, reason, positions=positions, not_before_seq=not_before_seq, drift=drift())],
        timeout_s=timeout_s)
    return None if outcomes is None else outcomes[0]


def activation_requests(decision: Decision, *, positions: str,
                        drift: Callable[[PolicySpec], str]) -> list[dict[str, Any]]:
    """What a promotion or rollback asks of the running session.

    The active slot swaps to the new policy; the new policy's candidate (when the session
    paper-trades it) stops; the policy it replaced becomes a candidate when the ledger kept it
    as one. ``drift`` gives a policy's drift model JSON.
    """
    entry = decision.entry
    assert entry is not None
    reason = (f"{entry.action.value} (ledger entry {entry.seq}) by {entry.decided_by}: "
              f"{entry.reason}")
    requests = [swap_request(entry.spec, reason, positions=positions,
                             drift=drift(entry.spec)),
                candidate_remove_request(entry.spec.hash, f"{reason}: active now")]
    if decision.demoted is not None and decision.demoted_to == "candidate":
        requests.append(candidate_add_request(
            decision.demoted, f"replaced by {entry.spec.hash}: a candidate now",
            drift(decision.demoted)))
    return requests


def offer_candidates(config: AppConfig, store: Path, policies: list[str]
                     ) -> list[dict[str, Any]] | None:
    """Ask the running session to paper-trade the ledger's ``policies`` (candidates now).

    Returns:
        None when no session runs (or nothing to ask), else one outcome per policy.
    """
    if not policies:
        return None
    from actors.adapters.policy_ledger import PolicyLedger
    from actors.governance.drift_model import drift_json

    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    specs = [latest_spec(entries, policy) for policy in policies]
    return ask_running_session(config, lambda: [
        candidate_add_request(spec, "a candidate by the configured rule",
                              drift_json(config, spec)[0]) for spec in specs])
