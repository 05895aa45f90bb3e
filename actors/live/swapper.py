"""The session's side of a policy swap: decide the step, make it durable, answer.

A request (from ``scripts/promote.py``, through the control actor) is applied at the first
step whose bars are not published yet, so no step is computed twice or with a strategy it was
not decided for; the swap is appended to the schedule file (fsynced) before that step is
published (:mod:`actors.live.policy_swaps`). A request already in the schedule (the session
restarted between writing and answering) is answered from it, never applied twice. A policy
that would not run as recorded under this session's trading rules and market, or whose risk
template is looser than the session's limits, is rejected: it takes effect at the next session
instead. A tighter template is traded from the swap's first step (the guardian's sentry
switches its risk engine, :mod:`actors.live.guardian_sentry`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from actors.live.plan import SessionPlan
from actors.live.policy_swaps import append_swap, load_schedule
from configs.risk import RiskLimits
from core.errors import EvotraderError
from core.governance.gates import looser_risk_fields
from core.governance.policy import PolicySpec
from core.governance.runtime import choice_of, runtime_form, session_runtime
from core.governance.swaps import PolicySwap


def decide_swap(plan: SessionPlan, request: dict[str, Any], published: int) -> dict[str, Any]:
    """Apply ``request`` at the step after ``published`` (or later), or reject it.

    Returns:
        The outcome: ``status`` (``applied`` / ``rejected``), and ``from_seq`` and ``ts``
        (the first bar traded by the new policy) or ``reason``.
    """
    inputs = plan.inputs
    config = inputs.config
    schedule = load_schedule(inputs.state_dir, inputs.live)
    for swap in schedule.swaps:
        if swap.request == request["id"]:
            return _applied(plan, swap)
    try:
        spec = PolicySpec.from_json(str(request["spec"]))
        choice = choice_of(spec, inputs.live.label)
        runtime = session_runtime(choice, config)
    except (EvotraderError, KeyError, ValueError) as exc:
        return {"status": "rejected", "reason": f"not a policy: {exc}"}
    refusal = live_refusal(spec, runtime, config.risk.effective())
    if refusal:
        return {"status": "rejected", "reason": refusal}
    bounds = plan.step_bounds()
    last = schedule.swaps[-1].from_seq if schedule.swaps else -1
    start = max(published + 1, int(request.get("not_before_seq") or 0), last + 1)
    if start >= len(bounds):
        return {"status": "rejected", "reason": "the session ends before its next step"}
    scale = float(request.get("size_scale") or 1.0)
    if schedule.choice_at(start) == choice and schedule.size_scale_at(start) == scale:
        return {"status": "rejected", "reason": f"the session already trades {spec.hash}"}
    swap = PolicySwap(start, spec.canonical_json(), str(request.get("positions", "keep")),
                      str(request.get("reason", "")), str(request["id"]),
                      str(request.get("drift") or ""), scale)
    append_swap(inputs.state_dir, swap)
    return _applied(plan, swap)


def live_refusal(spec: PolicySpec, runtime: PolicySpec, limits: RiskLimits) -> str:
    """Why ``spec`` cannot take over this session's slot ("" when it can).

    It must run as recorded under the session's trading rules and market (``runtime``: the
    policy's strategy run under them); its risk template may differ only by being tighter
    than the session's limits (the guardian trades it from the swap's first step).
    """
    if runtime_form(spec) == dataclasses.replace(runtime, risk=spec.risk):
        loose = looser_risk_fields(spec.risk, limits)
        if not loose:
            return ""
        return (f"policy {spec.hash}'s risk template is looser than this session's limits on "
                f"{', '.join(loose)}: it takes effect at the next session")
    return (f"policy {spec.hash} trades under other rules or market than this session: it "
            "takes effect at the next session")


def _applied(plan: SessionPlan, swap: PolicySwap) -> dict[str, Any]:
    i0, _ = plan.step_bounds()[swap.from_seq]
    return {"status": "applied", "from_seq": swap.from_seq, "ts": int(plan.timeline[i0]),
            "policy": swap.policy.hash, "size_scale": swap.size_scale}
