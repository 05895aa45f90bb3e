"""The policy ledger: every governance decision, append-only and hash-chained (pure).

Each :class:`LedgerEntry` records one decision (a candidate added or removed, a promotion, a
rollback, a retirement) with everything needed to audit and rebuild it: the policy's canonical
spec (:class:`~core.governance.policy.PolicySpec` JSON) and its hash, the gate results with
their evidence (run ids, report paths and the sha256 of each), who or what decided, why, and
when (the caller's clock). Its own hash covers all of that plus the previous entry's hash, so
changing, removing or reordering any entry breaks the chain from there on:
:func:`verify_chain` names the first entry at fault.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import ConfigError
from core.governance.gates import Evidence, GateResult
from core.governance.policy import PolicySpec, canonical_json

__all__ = ["GENESIS", "Action", "Evidence", "GateResult", "LedgerEntry", "active_policy",
           "latest_spec", "next_entry", "previous_active", "standing_candidates",
           "verify_chain"]

GENESIS = "0" * 64
"""The previous hash of the first entry."""


class Action(StrEnum):
    """What an entry decided."""

    BASELINE = "baseline"
    """The strategy that was active (from the config) when the first promotion replaced it."""
    CANDIDATE_ADD = "candidate_add"
    CANDIDATE_REMOVE = "candidate_remove"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    RETIRE = "retire"


ACTIVATING = (Action.BASELINE, Action.PROMOTE, Action.ROLLBACK)
"""The actions that put their policy in the active slot."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One decision (see the module doc).

    Attributes:
        seq: Position in the ledger, from 1.
        action: What was decided.
        policy_hash: The policy's :attr:`PolicySpec.hash`.
        policy: The policy's canonical JSON (:meth:`PolicySpec.canonical_json`).
        decided_by: ``operator:<name>``, ``rule:<id>`` or ``proposal:<id>``.
        reason: Why, in the decider's words.
        at_ms: When, from the caller's clock.
        prev_hash: The previous entry's :attr:`hash` (:data:`GENESIS` for the first).
        gates: The gates checked for this decision (none for a forced one).
    """

    seq: int
    action: Action
    policy_hash: str
    policy: str
    decided_by: str
    reason: str
    at_ms: int
    prev_hash: str
    gates: tuple[GateResult, ...] = field(default_factory=tuple)

    def body(self) -> dict[str, Any]:
        """The hashed content (JSON types)."""
        return {"seq": self.seq, "action": self.action.value, "policy_hash": self.policy_hash,
                "policy": self.policy, "decided_by": self.decided_by, "reason": self.reason,
                "at_ms": self.at_ms, "prev_hash": self.prev_hash,
                "gates": [g.to_dict() for g in self.gates]}

    def canonical_json(self) -> str:
        """The entry's bytes as stored: sorted keys, no spaces."""
        return canonical_json(self.body())

    @property
    def hash(self) -> str:
        """sha256 (64 hex) of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def spec(self) -> PolicySpec:
        """The recorded policy, rebuilt (see :meth:`PolicySpec.from_json`)."""
        return PolicySpec.from_json(self.policy)

    @classmethod
    def from_json(cls, text: str) -> LedgerEntry:
        """An entry from its :meth:`canonical_json`.

        Raises:
            ConfigError: Not an entry.
        """
        try:
            body = json.loads(text)
            gates = tuple(GateResult.from_dict(g) for g in body["gates"])
            return cls(int(body["seq"]), Action(body["action"]), str(body["policy_hash"]),
                       str(body["policy"]), str(body["decided_by"]), str(body["reason"]),
                       int(body["at_ms"]), str(body["prev_hash"]), gates)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a ledger entry: {type(exc).__name__}: {exc}") from exc


def next_entry(tail: LedgerEntry | None, action: Action, spec: PolicySpec, *, decided_by: str,
               reason: str, at_ms: int, gates: Sequence[GateResult] = ()) -> LedgerEntry:
    """The entry that follows ``tail`` (None: the first one).

    Raises:
        ConfigError: No decider or no reason, or a time before the tail's.
    """
    if not decided_by.strip() or not reason.strip():
        raise ConfigError("a ledger entry needs who decided and why (--reason)")
    if tail is not None and at_ms < tail.at_ms:
        raise ConfigError(f"a ledger entry at {at_ms} cannot follow one at {tail.at_ms}")
    return LedgerEntry(1 if tail is None else tail.seq + 1, action, spec.hash,
                       spec.canonical_json(), decided_by, reason, at_ms,
                       GENESIS if tail is None else tail.hash, tuple(gates))


def verify_chain(entries: Sequence[LedgerEntry]) -> list[str]:
    """Every break in the ledger, each naming its entry; [] when it verifies.

    Checks, in order: the numbering (1, 2, ...), each entry's link to the previous one's hash,
    and each entry's policy JSON against its policy hash.
    """
    problems: list[str] = []
    previous = GENESIS
    for expected, entry in enumerate(entries, start=1):
        if entry.seq != expected:
            problems.append(f"entry {entry.seq}: found where entry {expected} belongs "
                            "(an entry was removed or inserted)")
        if entry.prev_hash != previous:
            problems.append(f"entry {entry.seq}: its link to the previous entry does not match "
                            "(the previous entry was altered or removed)")
        try:
            actual = PolicySpec.from_json(entry.policy).hash
        except ConfigError as exc:
            problems.append(f"entry {entry.seq}: its policy cannot be read: {exc}")
        else:
            if actual != entry.policy_hash:
                problems.append(f"entry {entry.seq}: its policy hashes to {actual}, not the "
                                f"recorded {entry.policy_hash} (the policy was altered)")
        previous = entry.hash
    return problems


def active_policy(entries: Sequence[LedgerEntry]) -> str | None:
    """The policy hash in the active slot after ``entries`` (None: none promoted yet)."""
    active: str | None = None
    for entry in entries:
        if entry.action in ACTIVATING:
            active = entry.policy_hash
        elif entry.action is Action.RETIRE and entry.policy_hash == active:
            active = None
    return active


def previous_active(entries: Sequence[LedgerEntry]) -> str | None:
    """The policy active before the current one (what a rollback restores), None if none."""
    history: list[str] = []
    for entry in entries:
        if entry.action in ACTIVATING:
            if history and history[-1] == entry.policy_hash:
                continue
            history.append(entry.policy_hash)
    return history[-2] if len(history) >= 2 else None


def standing_candidates(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """The candidate entries still standing, in the order they were added.

    A candidate stands from its ``candidate_add`` until it is removed, retired or promoted
    (a policy demoted by a later promotion or rollback is not a candidate again unless it is
    added again).
    """
    standing: dict[str, LedgerEntry] = {}
    for entry in entries:
        if entry.action is Action.CANDIDATE_ADD:
            standing.setdefault(entry.policy_hash, entry)
        elif entry.action in (Action.CANDIDATE_REMOVE, Action.RETIRE, *ACTIVATING):
            standing.pop(entry.policy_hash, None)
    return list(standing.values())


def latest_spec(entries: Sequence[LedgerEntry], policy_hash: str) -> PolicySpec:
    """The recorded spec of ``policy_hash`` (its last entry), rebuilt from its JSON.

    Raises:
        ConfigError: No entry names it, or its JSON does not hash to it.
    """
    for entry in reversed(entries):
        if entry.policy_hash == policy_hash:
            spec = entry.spec
            if spec.hash != policy_hash:
                raise ConfigError(f"ledger entry {entry.seq}: its policy hashes to {spec.hash}, "
                                  f"not {policy_hash} (the ledger was altered)")
            return spec
    raise ConfigError(f"no ledger entry names policy {policy_hash}")
