"""The session acts on the sentry's alarms: theory packets and the configured actions.

Every alarm of a step (a drift detector fired, or the daily drop) is written as a theory packet
``<session>/drift/<step>-<kind>.json``: the statistic and its threshold, the expected and the
live returns, the regime. Then the actions of ``[governance.drift] on_alarm``, each from the
first unpublished step (a demoted policy joins the candidates before they are frozen):

* ``alert``: nothing more (the packet is the record);
* ``freeze_candidates``: the session's candidate roster refuses additions from then on
  (:func:`actors.live.roster_changes.freeze_roster`);
* ``halve_size``: the active slot trades its policy at half its size (a swap to the same policy
  with ``size_scale`` halved; the held targets are resized on the swap's first bar);
* ``rollback``: the policy that was active before the current one in the ledger is restored
  through the same hot swap as a promotion (:func:`actors.live.swapper.decide_swap`) — at half
  size too when ``halve_size`` is also on —, with a ``rollback`` entry decided by
  ``rule:drift-sentry`` or ``rule:daily-drop`` and the left policy retired;
* ``demote``: the same rollback, but the left policy stays a candidate (ledger
  ``candidate_add``) and starts paper-trading in the session.

The rollback latency — from the alarm's bar to the first bar the restored policy trades — is
in the packet and the ledger entry. Each step's alarms are acted on once: a restarted session
that sees them again finds its swaps and roster changes (by request id) and its ledger
entries, and adds none twice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from actors.adapters.policy_ledger import PolicyLedger
from actors.live.plan import SessionPlan
from actors.live.policy_swaps import load_schedule
from actors.live.reports import GuardianReport
from actors.live.swapper import decide_swap
from core.governance.gates import Evidence, GateResult
from core.governance.policy import PolicySpec
from core.governance.runtime import session_runtime

DRIFT_DIR = "drift"
LATENCY_GATE = "rollback_latency_bars"
RULES = {"drift_alarm": "rule:drift-sentry", "daily_drop": "rule:daily-drop"}


def on_alarms(plan: SessionPlan, report: GuardianReport, published: int) -> dict[str, Any]:
    """Write the packets of ``report``'s alarms and take the configured actions (see above).

    Returns:
        What happened: ``packets`` written and each action's outcome.
    """
    inputs = plan.inputs
    folder = Path(plan.folder) / DRIFT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for alarm in report.alarms:
        name = f"{report.seq:06d}-{alarm['kind']}-{alarm.get('detector', 'equity')}.json"
        paths.append(folder / name)
    result: dict[str, Any] = {"packets": [str(p) for p in paths]}
    actions = inputs.config.governance.drift.on_alarm
    alarm = report.alarms[0]
    why = (f"{alarm['kind']}{' ' + alarm['detector'] if 'detector' in alarm else ''} of "
           f"policy {alarm['policy']} at bar {alarm['ts']}")
    scale = _scale_now(plan, report.seq) * (0.5 if "halve_size" in actions else 1.0)
    if "rollback" in actions or "demote" in actions:
        result["rollback"] = _roll_back(plan, report, published, paths[0].name, scale,
                                        demote="demote" in actions)
    elif "halve_size" in actions:
        result["halve_size"] = _halve(plan, report, published, scale, why)
    if "freeze_candidates" in actions:
        from actors.live.roster_changes import freeze_roster

        frozen = freeze_roster(plan, published + 1, f"drift alarm: {why}")
        result["freeze_candidates"] = "frozen" if frozen else "frozen already"
    tf = inputs.timeframe_ms
    for path, alarm in zip(paths, report.alarms, strict=True):
        packet = {**alarm, "action": "+".join(actions),
                  **{k: v for k, v in result.items() if k not in ("packets", "rollback")}}
        rollback = result.get("rollback")
        if rollback is not None:
            packet["rollback"] = dict(rollback)
            if rollback.get("status") == "applied":
                packet["rollback"]["latency_bars"] = (int(rollback["ts"]) - int(alarm["ts"])) \
                    // tf
        _write_once(path, packet)
    return result


def _scale_now(plan: SessionPlan, seq: int) -> float:
    inputs = plan.inputs
    return load_schedule(inputs.state_dir, inputs.live).size_scale_at(seq)


def _halve(plan: SessionPlan, report: GuardianReport, published: int, scale: float,
           why: str) -> dict[str, Any]:
    """The active policy again, at ``scale``, from the first unpublished step."""
    inputs = plan.inputs
    schedule = load_schedule(inputs.state_dir, inputs.live)
    if schedule.swaps and schedule.swaps[-1].from_seq > report.seq:
        return {"status": "skipped", "reason": "a swap is already on its way"}
    current = schedule.swap_at(report.seq)
    active = inputs.config.governance.active_policy
    spec = (current.policy if current is not None
            else PolicySpec.from_json(active) if active
            else session_runtime(inputs.live, inputs.config))
    request = {"id": f"auto-halve-{report.seq}", "spec": spec.canonical_json(),
               "reason": f"halve size after a drift alarm: {why}",
               "drift": current.drift if current is not None else inputs.drift_model,
               "positions": "keep", "size_scale": scale}
    return decide_swap(plan, request, published)


def _roll_back(plan: SessionPlan, report: GuardianReport, published: int, packet: str,
               scale: float = 1.0, demote: bool = False) -> dict[str, Any]:
    inputs = plan.inputs
    alarm = report.alarms[0]
    schedule = load_schedule(inputs.state_dir, inputs.live)
    if schedule.swaps and schedule.swaps[-1].from_seq > report.seq:
        return {"status": "skipped", "reason": "a swap is already on its way"}
    ledger_path = Path(inputs.ledger_path)
    if not inputs.ledger_path or not ledger_path.is_file():
        return {"status": "skipped", "reason": "no policy ledger to roll back with"}
    from core.governance.ledger import (
        Action,
        active_policy,
        latest_spec,
        next_entry,
        previous_active,
    )

    with PolicyLedger(ledger_path) as ledger:
        entries = ledger.entries()
    if active_policy(entries) != alarm["policy"]:
        return {"status": "skipped", "reason": f"policy {alarm['policy']} is not the ledger's "
                                               "active policy: nothing to roll back to"}
    target = previous_active(entries)
    if target is None:
        return {"status": "skipped", "reason": "no policy was active before it"}
    spec = latest_spec(entries, target)
    from actors.governance.drift_model import drift_json

    request_id = f"auto-rollback-{report.seq}"
    reason = (f"automatic rollback ({request_id}): {alarm['kind']}"
              f"{' ' + alarm['detector'] if 'detector' in alarm else ''} at bar {alarm['ts']}")
    model, _ = drift_json(inputs.config, spec)
    outcome = decide_swap(plan, {"id": request_id, "spec": spec.canonical_json(),
                                 "reason": reason, "drift": model, "size_scale": scale,
                                 "positions": inputs.config.governance.swap_positions},
                          published)
    if outcome["status"] != "applied":
        return outcome
    left = latest_spec(entries, alarm["policy"])
    with PolicyLedger(ledger_path) as ledger:
        entries = ledger.entries()
        if not any(request_id in e.reason for e in entries):
            latency = (int(outcome["ts"]) - int(alarm["ts"])) // inputs.timeframe_ms
            tail = ledger.tail()
            at_ms = max(time.time_ns() // 1_000_000, tail.at_ms if tail else 0)
            rule = RULES.get(alarm["kind"], "rule:sentry")
            ledger.append(next_entry(tail, Action.ROLLBACK, spec, decided_by=rule,
                                     reason=f"{reason}; rollback latency {latency} bar(s), "
                                            f"session {inputs.session_id}", at_ms=at_ms,
                                     gates=_trigger(alarm, latency, inputs.session_id, packet)))
            rolled = ledger.tail()
            assert rolled is not None
            ledger.append(next_entry(rolled, Action.CANDIDATE_ADD if demote else Action.RETIRE,
                                     left, decided_by=rule, at_ms=at_ms,
                                     reason=f"rolled back from ({request_id}, entry {rolled.seq})"
                                            + ("; a candidate now" if demote else "")))
    if demote:
        from actors.governance.live import candidate_add_request
        from actors.live.roster_changes import decide_candidate_change

        request = {**candidate_add_request(left, f"demoted by {request_id}",
                                           drift_json(inputs.config, left)[0]),
                   "id": f"auto-demote-{report.seq}"}
        outcome = {**outcome, "demoted": decide_candidate_change(plan, request, published)}
    return outcome


def _trigger(alarm: dict[str, Any], latency: int, session_id: str, packet: str
             ) -> tuple[GateResult, ...]:
    """What fired, as the rollback entry's evidence, and the measured rollback latency."""
    statistic = alarm.get("statistic", alarm.get("drop_pct"))
    name = f"sentry:{alarm['kind']}" + (f":{alarm['detector']}" if "detector" in alarm else "")
    where = (Evidence("session", session_id), Evidence("packet", f"{DRIFT_DIR}/{packet}"))
    return (GateResult(name, float(statistic), f"<= {float(alarm['threshold']):.4g}", False,
                       where, f"policy {alarm['policy']} at bar {alarm['ts']}"),
            GateResult(LATENCY_GATE, float(latency), "measured", True, where,
                       "alarm bar -> first bar traded by the restored policy"))


def _write_once(path: Path, packet: dict[str, Any]) -> None:
    if path.exists():
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(packet, indent=1, sort_keys=True, default=str) + "\n")
    temporary.replace(path)
