"""The session's side of a candidate added or removed while it runs.

A request (``scripts/promote.py candidate add|remove``, a live promotion, through the control
actor) is decided at the first step whose bars are not published yet and appended to the
roster file (fsynced) before that step is published (:mod:`actors.live.roster_file`); a
request already in the roster (the session restarted between writing and answering) is
answered from it, never applied twice. A policy that would not run as recorded under this
session's trading rules, risk limits and market is rejected (it joins the next session), and
so is an addition beyond the configured candidate slots or after a drift alarm froze the
roster.

The :class:`RosterKeeper` then makes the candidates subtree match the roster, in a thread of
the session actor (a candidate starts or finishes without holding up the steps): it starts
each added candidate as a child of the candidates supervisor, and brings each removed one to
its last step before terminating it. It looks again every second, so a candidates supervisor
restarted by its parent (which forgets the children added since, see
:mod:`supervisors.dynamic`) gets them back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from actors.live.calls import ActorDirectory
from actors.live.logs import actor_log
from actors.live.names import PREFIX, ROOT, candidate_actor
from actors.live.plan import SessionPlan
from actors.live.policies import write_policies_record
from actors.live.roster_file import append_change, load_roster
from actors.live.tree import candidate_child
from core.errors import EvotraderError
from core.governance.policy import PolicySpec
from core.governance.roster import CandidateRoster, RosterChange
from core.governance.runtime import choice_of, runtime_form, session_runtime
from supervisors.naming import supervisor_actor_name

CANDIDATES = supervisor_actor_name(PREFIX, f"{ROOT}/candidates")
"""The Ray name of a session's candidates supervisor."""
RECONCILE_S = 1.0


def session_roster(plan: SessionPlan) -> CandidateRoster:
    """The roster on disk."""
    return load_roster(plan.inputs.state_dir, plan.inputs.candidate_names)


def decide_candidate_change(plan: SessionPlan, request: dict[str, Any], published: int
                            ) -> dict[str, Any]:
    """Apply an add or remove ``request`` at the step after ``published`` (or later).

    Returns:
        The outcome: ``status`` (``applied`` / ``rejected``), and ``from_seq`` and ``ts`` or
        ``reason``.
    """
    inputs = plan.inputs
    roster = session_roster(plan)
    done = roster.by_request(str(request["id"]))
    if done is not None:  # decided before a restart: its record may not be written yet
        write_policies_record(Path(plan.folder), inputs)
        return _applied(plan, done)
    action = "add" if request["kind"] == "candidate_add" else "remove"
    name = str(request.get("name", ""))
    spec_text = drift = ""
    if action == "add":
        try:
            spec = PolicySpec.from_json(str(request["spec"]))
            runtime = session_runtime(choice_of(spec, name), inputs.config)
        except (EvotraderError, KeyError, ValueError) as exc:
            return {"status": "rejected", "reason": f"not a policy: {exc}"}
        if runtime != runtime_form(spec):
            return {"status": "rejected",
                    "reason": f"policy {spec.hash} trades under other rules, risk limits or "
                              "market than this session: it joins the next session"}
        spec_text, drift = spec.canonical_json(), str(request.get("drift") or "")
    bounds = plan.step_bounds()
    start = max(published + 1, int(request.get("not_before_seq") or 0))
    if start >= len(bounds):
        return {"status": "rejected", "reason": "the session ends before its next step"}
    slots = inputs.config.governance.candidate_slots
    ledger = [n for n in roster.trading_at(start) if n.startswith("p-")]
    if action == "add" and name.startswith("p-") and len(ledger) >= slots:
        return {"status": "rejected",
                "reason": f"the session's {slots} candidate slots are taken: it joins the "
                          "next session with a free slot"}
    change = RosterChange(start, action, name, spec_text, drift, str(request.get("reason", "")),
                          str(request["id"]))
    refusal = roster.refusal(change)
    if refusal:
        return {"status": "rejected", "reason": refusal}
    append_change(inputs.state_dir, change)
    write_policies_record(Path(plan.folder), inputs)
    return _applied(plan, change)


def freeze_roster(plan: SessionPlan, from_seq: int, reason: str) -> bool:
    """Refuse new candidates from step ``from_seq`` on (False: frozen already)."""
    if session_roster(plan).frozen():
        return False
    append_change(plan.inputs.state_dir, RosterChange(from_seq, "freeze", reason=reason))
    return True


def _applied(plan: SessionPlan, change: RosterChange) -> dict[str, Any]:
    i0, _ = plan.step_bounds()[change.from_seq]
    return {"status": "applied", "from_seq": change.from_seq, "ts": int(plan.timeline[i0]),
            "candidate": change.name, "action": change.action}


class RosterKeeper:
    """Keeps the candidates subtree equal to the roster (see the module doc).

    Args:
        plan: The session plan.
        directory: Named-actor calls with retries (a removed candidate's ``finish``).
        done_through: The last step the session completed: a removed candidate is brought
            to its last step once the session is there (a live feed has no later bar).
    """

    def __init__(self, plan: SessionPlan, directory: ActorDirectory,
                 done_through: Callable[[], int]) -> None:
        self._plan, self._directory = plan, directory
        self._done_through = done_through
        self._log = actor_log(plan.inputs.session_id, "roster")
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._finished: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="roster-keeper", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """The roster changed: reconcile now."""
        self._wake.set()

    def close(self) -> None:
        """Stop the thread, then reconcile once more (the session's end: every step is done)."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=120)
        try:
            self.reconcile(at_end=True)
        except Exception as exc:  # noqa: BLE001 - the session still ends; the books stay
            self._log.error("roster not settled at the end: a candidate's book stops where "
                            "it got", error=str(exc).splitlines()[0])

    def _loop(self) -> None:
        while not self._closed.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # noqa: BLE001 - tried again at the next look
                self._log.warning("roster reconcile failed: tried again", error=str(exc))
            self._wake.wait(RECONCILE_S)
            self._wake.clear()

    def reconcile(self, at_end: bool = False) -> None:
        """Start the added candidates that are not children, finish and stop removed ones."""
        with self._lock:
            roster = session_roster(self._plan)
            if not roster.changes:
                return
            inputs, names = self._plan.inputs, self._plan.names
            supervisor = ray.get_actor(CANDIDATES, namespace=inputs.namespace)
            children = set(ray.get(supervisor.restart_counts.remote(), timeout=60))
            for member in roster.members().values():
                child = f"candidate-{member.name}"
                if member.until is None and child not in children:
                    spec = PolicySpec.from_json(member.spec)
                    ray.get(supervisor.start_child.remote(candidate_child(
                        inputs, names, member.name, choice_of(spec, member.name),
                        member.drift, member.first)), timeout=120)
                    self._log.info("candidate added", candidate=member.name,
                                   first_step=member.first)
                elif member.until is not None and child in children:
                    if not at_end and self._done_through() < member.until - 1:
                        continue  # its last step is not published yet
                    if member.name not in self._finished:
                        self._directory.call(candidate_actor(member.name), "finish",
                                             member.until - 1)
                        self._finished.add(member.name)
                    ray.get(supervisor.terminate_child.remote(child), timeout=120)
                    self._log.info("candidate removed", candidate=member.name,
                                   last_step=member.until - 1)

    def trading(self) -> list[str]:
        """Ray names of the candidates trading to the session's end."""
        roster = session_roster(self._plan)
        return [candidate_actor(m.name) for m in roster.members().values() if m.until is None]
