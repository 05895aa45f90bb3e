"""Promotion flows on the store: check, promote, roll back, add and remove candidates.

Each flow resolves what the operator named into a policy (:func:`resolve`), measures and
checks the gates where the decision needs them (:func:`check`), appends one entry to the
policy ledger, and moves the policy's discovery trial along the registry's lifecycle where
the lifecycle allows it. The ledger is the source of truth; a new session trades its active
policy and paper-trades its candidates (:mod:`actors.governance.apply`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.sqlite_registry import TrialRegistry
from actors.governance import evidence
from actors.governance.evidence import Subject
from actors.live.plan import session_choices
from configs.app import AppConfig
from core.errors import (
    ConfigError,
    DSLError,
    EvotraderError,
    LifecycleError,
    RegistryError,
    UsageError,
)
from core.governance.gates import GateResult, check_gates, refusals
from core.governance.ledger import (
    ACTIVATING,
    Action,
    LedgerEntry,
    active_policy,
    latest_spec,
    next_entry,
    previous_active,
    standing_candidates,
)
from core.governance.policy import PolicySpec, policy_spec
from core.governance.runtime import runtime_form, session_runtime
from core.trading.slot import alpha_definition, builtin_definition


class GatesRefusedError(EvotraderError):
    """A promotion the gates refused (``promote.py`` exits 3)."""

    exit_code = 3

    def __init__(self, results: tuple[GateResult, ...]) -> None:
        self.results = results
        names = ", ".join(r.name for r in refusals(results))
        super().__init__(f"refused by the gates: {names}")


@dataclass(frozen=True)
class Decision:
    """What a flow did: the ledger entry, the gates, and what else happened."""

    entry: LedgerEntry | None
    gates: tuple[GateResult, ...] = ()
    notes: tuple[str, ...] = ()
    demoted: PolicySpec | None = None
    """The policy an activation took the active slot from (None: none, or not recorded)."""
    demoted_to: str = ""
    """What became of it: ``candidate`` or ``retire``."""


def now_ms() -> int:
    """The decision time (the operator's wall clock)."""
    return time.time_ns() // 1_000_000


def resolve(config: AppConfig, store: Path, ident: str) -> Subject:
    """The policy ``ident`` names.

    ``builtin:NAME[,k=v,...]`` (a built-in under this config's trading, risk and market), an
    expression in parentheses (an alpha under the discovery objective's mapping), a trial hash
    or unique prefix in the registry (its policy as its run scored it), or a policy hash (or
    prefix) in the ledger.

    Raises:
        UsageError: Nothing, or more than one thing, matches.
    """
    text = ident.strip()
    market = (config.backtest, config.risk.effective(), tuple(config.data.symbols),
              config.data.timeframe)
    try:
        if text.startswith("builtin:"):
            name, _, params = text[len("builtin:"):].partition(",")
            return Subject(policy_spec(builtin_definition(name.strip(), params), *market))
        if text.startswith("("):
            mapping = config.evolution.objective.mapping
            spec = policy_spec(alpha_definition(text, mapping), *market)
            return _with_trial(store, spec) if store.is_file() else Subject(spec)
    except (DSLError, ConfigError) as exc:
        raise UsageError(f"{text!r}: {exc}") from exc
    except Exception as exc:
        raise UsageError(f"{text!r}: {type(exc).__name__}: {exc}") from exc
    found = []
    if store.is_file():
        with TrialRegistry(store) as registry:
            for trial in registry.find(text):
                try:
                    found.append(Subject(registry.policy(trial.hash, trial.layer), trial))
                except RegistryError:
                    continue
        with PolicyLedger(store) as ledger:
            entries = ledger.entries()
        hashes = sorted({e.policy_hash for e in entries if e.policy_hash.startswith(text)})
        known = {s.spec.hash for s in found}
        found += [_with_trial(store, latest_spec(entries, h)) for h in hashes
                  if h not in known]
    if not found:
        raise UsageError(f"{text!r} names no trial and no ledger policy in {store} (give a "
                         "trial hash, a policy hash, '(expression)' or 'builtin:name,k=v')")
    if len({s.spec.hash for s in found}) > 1:
        names = ", ".join(sorted({s.spec.hash for s in found})[:5])
        raise UsageError(f"{text!r} names {len(found)} policies ({names}); give more of the "
                         "hash")
    return found[0]


def _with_trial(store: Path, spec: PolicySpec) -> Subject:
    """``spec`` with the discovery trial it is the policy of, when the registry has one."""
    if spec.strategy.kind != "alpha":
        return Subject(spec)
    with TrialRegistry(store) as registry:
        for trial in registry.by_text(spec.strategy.expression):
            try:
                if registry.policy(trial.hash, trial.layer).hash == spec.hash:
                    return Subject(spec, trial)
            except RegistryError:
                continue
    return Subject(spec)


def active_spec(config: AppConfig, entries: list[LedgerEntry]) -> PolicySpec:
    """The policy in the active slot: the ledger's, else the config's ``[strategy]``."""
    active = active_policy(entries)
    if active is not None:
        return latest_spec(entries, active)
    live, _ = session_choices(config)
    return session_runtime(live, config)


def check(config: AppConfig, store: Path, subject: Subject) -> tuple[GateResult, ...]:
    """Every gate measured and checked for ``subject``."""
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    measured = {}
    with TrialRegistry(store) as registry:
        measured.update(evidence.research(config, registry, subject))
    sessions = Path(config.session.sessions_dir)
    measured.update(evidence.paper(config, subject.spec, sessions))
    measured["risk_template"] = evidence.risk(subject.spec, active_spec(config, entries).risk)
    return check_gates(config.governance.gates, measured)


def promote(config: AppConfig, store: Path, subject: Subject, *, operator: str, reason: str,
            dry_run: bool = False) -> Decision:
    """Check the gates and, when every one passes, make ``subject`` the active policy.

    Raises:
        GatesRefusedError: A gate failed (nothing is written).
        UsageError: It is already active.
    """
    with PolicyLedger(store) as ledger:
        if active_policy(ledger.entries()) == subject.spec.hash:
            raise UsageError(f"policy {subject.spec.hash} is already active")
    results = check(config, store, subject)
    if refusals(results):
        raise GatesRefusedError(results)
    if dry_run:
        return Decision(None, results, ("dry run: nothing written",))
    with PolicyLedger(store) as ledger:
        baseline = active_spec(config, ledger.entries())
    return _activate(store, subject, Action.PROMOTE, f"operator:{operator}", reason, results,
                     baseline, config.governance.demoted)


def rollback(config: AppConfig, store: Path, *, operator: str, reason: str,
             to: str | None = None) -> Decision:
    """Make the previous active policy (or ``to``, one that was active) active again.

    Raises:
        UsageError: Nothing to roll back to, or ``to`` was never active.
    """
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    was_active = [e.policy_hash for e in entries if e.action in ACTIVATING]
    if to is None:
        target = previous_active(entries)
        if target is None:
            raise UsageError("nothing to roll back to: no policy was active before the "
                             "current one")
    else:
        matches = sorted({h for h in was_active if h.startswith(to)})
        if len(matches) != 1:
            raise UsageError(f"--to {to!r} names {len(matches)} policies that were active "
                             f"({', '.join(matches) or 'none'})")
        target = matches[0]
    if target == active_policy(entries):
        raise UsageError(f"policy {target} is already active")
    return _activate(store, _with_trial(store, latest_spec(entries, target)), Action.ROLLBACK,
                     f"operator:{operator}", reason, ())


def add_candidate(config: AppConfig, store: Path, subject: Subject, *, operator: str,
                  reason: str, decided_by: str | None = None) -> Decision:
    """Make ``subject`` a candidate: the next session paper-trades it.

    ``decided_by`` names a rule instead of the operator (``rule:<id>``).

    Raises:
        UsageError: It is already a candidate or active.
    """
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
        if subject.spec.hash in {e.policy_hash for e in standing_candidates(entries)}:
            raise UsageError(f"policy {subject.spec.hash} is already a candidate")
        if active_policy(entries) == subject.spec.hash:
            raise UsageError(f"policy {subject.spec.hash} is the active policy")
        entry = next_entry(ledger.tail(), Action.CANDIDATE_ADD, subject.spec,
                           decided_by=decided_by or f"operator:{operator}", reason=reason,
                           at_ms=now_ms())
        ledger.append(entry)
    notes = _move_trial(store, subject, "candidate", reason)
    return Decision(entry, (), notes)


def remove_candidate(store: Path, subject: Subject, *, operator: str, reason: str
                     ) -> Decision:
    """Stop paper-trading a candidate (its trial is retired).

    Raises:
        UsageError: It is not a standing candidate.
    """
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
        if subject.spec.hash not in {e.policy_hash for e in standing_candidates(entries)}:
            raise UsageError(f"policy {subject.spec.hash} is not a candidate")
        entry = next_entry(ledger.tail(), Action.CANDIDATE_REMOVE, subject.spec,
                           decided_by=f"operator:{operator}", reason=reason, at_ms=now_ms())
        ledger.append(entry)
    return Decision(entry, (), _move_trial(store, subject, "retired", reason))


def _activate(store: Path, subject: Subject, action: Action, decided_by: str, reason: str,
              gates: tuple[GateResult, ...], baseline: PolicySpec | None = None,
              demoted_to: str = "retire") -> Decision:
    """Append the activation, then what becomes of the policy it replaces.

    The first activation records the config's strategy as its baseline first (so a rollback
    can restore it). The replaced policy becomes a candidate (``demoted_to = "candidate"``, a
    promotion's default) or is retired (a rollback's).
    """
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
        demoted = active_policy(entries)
        if demoted is None and baseline is not None and baseline.hash != subject.spec.hash:
            first = next_entry(ledger.tail(), Action.BASELINE, baseline,
                               decided_by="rule:baseline",
                               reason="the configured strategy the first promotion replaces",
                               at_ms=now_ms())
            ledger.append(first)
            entries = [*entries, first]
            demoted = baseline.hash
        entry = next_entry(ledger.tail(), action, subject.spec, decided_by=decided_by,
                           reason=reason, at_ms=now_ms(), gates=gates)
        ledger.append(entry)
        if demoted is not None:
            keep = demoted_to == "candidate"
            ledger.append(next_entry(
                ledger.tail(), Action.CANDIDATE_ADD if keep else Action.RETIRE,
                latest_spec(entries, demoted), decided_by="rule:demoted",
                reason=f"replaced by {subject.spec.hash} ({action.value}, entry {entry.seq})",
                at_ms=now_ms()))
    notes = list(_move_trial(store, subject, "active", reason))
    demoted_spec = latest_spec(entries, demoted) if demoted is not None else None
    if demoted is not None:
        status = "candidate" if demoted_to == "candidate" else "retired"
        notes.append(f"policy {demoted} left the active slot: "
                     f"{'a candidate now' if status == 'candidate' else 'retired'}")
        notes += _move_trial(store, _with_trial(store, latest_spec(entries, demoted)), status,
                             f"replaced by {subject.spec.hash}")
    return Decision(entry, gates, tuple(notes), demoted_spec,
                    demoted_to if demoted is not None else "")


def _move_trial(store: Path, subject: Subject, status: str, reason: str) -> tuple[str, ...]:
    """Move the discovery trials of the subject's policy in the registry, where allowed."""
    notes = []
    with TrialRegistry(store) as registry:
        trials = [subject.trial] if subject.trial is not None else []
        for trial in trials:
            try:
                registry.transition(trial.hash, trial.layer, status, reason=reason,
                                    at=now_ms())
            except LifecycleError as exc:
                notes.append(f"registry unchanged: {exc}")
    return tuple(notes)


def rebuild_strategy(store: Path, policy: str) -> str:
    """The runtime form of the ledger's policy ``policy`` (a hash or unique prefix).

    The canonical JSON a session that trades it records as its ``runtime`` in
    ``policies.json``, rebuilt from the ledger alone: the same bytes, or the session did not
    run the policy as recorded.

    Raises:
        UsageError: No ledger policy, or several, match.
    """
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    matches = sorted({e.policy_hash for e in entries if e.policy_hash.startswith(policy)})
    if len(matches) != 1:
        raise UsageError(f"{policy!r} names {len(matches)} ledger policies "
                         f"({', '.join(matches[:5]) or 'none'})")
    return runtime_form(latest_spec(entries, matches[0])).canonical_json()
