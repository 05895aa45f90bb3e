r"""Governance from the command line: the alphas standing for promotion and the policy ledger.

Examples::

    python scripts/promote.py list                 # validated, candidate and active alphas
    python scripts/promote.py list --status validated --layer tactical
    python scripts/promote.py show 3fa2            # a trial (hash prefix) or a ledger policy
    python scripts/promote.py history              # every governance decision, in order
    python scripts/promote.py verify               # the ledger's hash chain, entry by entry
    python scripts/promote.py candidate add 3fa2 --reason "best of run 7"
    python scripts/promote.py candidate auto       # the latest run's survivors, by the rule
    python scripts/promote.py check 3fa2           # every gate: measured value, threshold
    python scripts/promote.py promote 3fa2 --reason "passed its paper month" [--dry-run]
    python scripts/promote.py rollback --reason "decayed" [--to HASH]
    python scripts/promote.py rebuild 9c1e         # the runtime form of a ledger policy
    python scripts/promote.py kpis                 # time to candidate, promotion rate, ...

Reads the store of the configuration (``store.path``, SQLite: the trial registry and the
policy ledger). ``show`` prints a trial's policy (its expression under the template its run
scored it with: mapping, costs, sizing, risk template, market, window) with its one hash and
its lifecycle. ``verify`` exits 1 naming the first entry at fault. ``check`` and a refused
``promote`` list every gate with its measured value, threshold and verdict; a refusal exits
3. Usage and configuration errors exit 2. An ID is a trial hash (or unique prefix), a ledger
policy hash, an expression in parentheses or ``builtin:name,k=v``. A promotion, rollback or
candidate change also reaches a session running in the configured Ray namespace (unless
``--offline``): it swaps its active policy at its next step boundary, keeping or flattening
the open positions (``--positions``), and starts or stops the candidates (the promoted
policy's candidate stops, the replaced policy, kept as a candidate, starts paper-trading).
Every decision holds for the next sessions: they trade the ledger's active policy and
paper-trade its candidates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.adapters.policy_ledger import PolicyLedger  # noqa: E402
from actors.adapters.sqlite_registry import TrialRegistry  # noqa: E402
from actors.cli import run_command  # noqa: E402
from actors.governance import promotion  # noqa: E402
from actors.governance.auto_candidates import auto_candidates  # noqa: E402
from actors.governance.drift_model import drift_json  # noqa: E402
from actors.governance.kpis import kpis  # noqa: E402
from actors.governance.live import (  # noqa: E402
    activation_requests,
    ask_running_session,
    candidate_add_request,
    candidate_remove_request,
    offer_candidates,
)
from actors.governance.promotion import Decision, GatesRefusedError  # noqa: E402
from configs.app import AppConfig  # noqa: E402
from configs.loader import load_config  # noqa: E402
from core.errors import RegistryError, UsageError  # noqa: E402
from core.governance.gates import GateResult  # noqa: E402
from core.governance.lifecycle import LIFECYCLE  # noqa: E402

STANDING = ("validated", "candidate", "active")
"""What ``list`` shows by default: the alphas that may still trade."""
VERIFY_FAILED = 1
REFUSED = 3


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="TOML config (default: configs/default.toml)")
    common.add_argument("--store", metavar="FILE", default=argparse.SUPPRESS,
                        help="store file (default: store.path of the config)")
    parser = argparse.ArgumentParser(prog="promote.py", description=__doc__.split("\n")[0],
                                     parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="alphas standing for promotion",
                                  parents=[common])
    listing.add_argument("--status", action="append", choices=LIFECYCLE,
                         help="statuses to show (repeatable; default: validated, candidate, "
                              "active)")
    listing.add_argument("--layer", help="only this search layer")
    show = commands.add_parser("show", help="a trial (hash or prefix) or a ledger policy",
                               parents=[common])
    show.add_argument("id", help="trial hash (or a unique prefix) or policy hash")
    commands.add_parser("history", help="the policy ledger, in order", parents=[common])
    commands.add_parser("verify", help="check the ledger's hash chain", parents=[common])
    decided = argparse.ArgumentParser(add_help=False, parents=[common])
    decided.add_argument("--reason", required=True, help="why (recorded in the ledger)")
    decided.add_argument("--operator", default=os.environ.get("USER") or "operator",
                         help="who decides (default: $USER)")
    decided.add_argument("--positions", choices=("keep", "flatten"),
                         help="a running session's open positions at the swap (default: "
                              "[governance] swap_positions)")
    decided.add_argument("--offline", action="store_true",
                         help="write the ledger only; do not reach a running session")
    checking = commands.add_parser("check", help="measure and check every gate",
                                   parents=[common])
    checking.add_argument("id", help="trial, policy, '(expression)' or 'builtin:name,k=v'")
    promoting = commands.add_parser("promote", help="make a policy active (gated)",
                                    parents=[decided])
    promoting.add_argument("id", help="trial, policy, '(expression)' or 'builtin:name,k=v'")
    promoting.add_argument("--dry-run", action="store_true", help="check, write nothing")
    rolling = commands.add_parser("rollback", help="restore the previous active policy",
                                  parents=[decided])
    rolling.add_argument("--to", metavar="HASH", help="a policy that was active before")
    candidate = commands.add_parser("candidate", help="add or remove a candidate",
                                    parents=[common])
    verbs = candidate.add_subparsers(dest="verb", required=True)
    for verb, text in (("add", "paper-trade a policy in the next sessions"),
                       ("remove", "stop paper-trading a candidate")):
        one = verbs.add_parser(verb, help=text, parents=[decided])
        one.add_argument("id", help="trial, policy, '(expression)' or 'builtin:name,k=v'")
    auto = verbs.add_parser("auto", help="a discovery run's survivors, by the configured rule",
                            parents=[common])
    auto.add_argument("--offline", action="store_true",
                      help="write the ledger only; do not reach a running session")
    auto.add_argument("--run", help="discovery run id (default: the latest)")
    commands.add_parser("kpis", help="time to candidate, promotion rate, rollback latency",
                        parents=[common])
    rebuilding = commands.add_parser("rebuild", help="the runtime form of a ledger policy",
                                     parents=[common])
    rebuilding.add_argument("policy", help="policy hash (or unique prefix) in the ledger")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run one command; returns the exit code."""
    config = load_config(getattr(args, "config", None)).config
    store = Path(getattr(args, "store", None) or config.store.path)
    if args.command in ("check", "promote", "rollback", "candidate"):
        return _decide(args, config, store)
    if not store.is_file():
        raise UsageError(f"no store at {store}: run scripts/evolve.py first, or pass --store")
    if args.command == "rebuild":
        print(promotion.rebuild_strategy(store, args.policy))
        return 0
    if args.command == "kpis":
        _print_table(("figure", "value"), kpis(store).rows())
        return 0
    if args.command == "list":
        return _list(store, args.status or list(STANDING), args.layer)
    if args.command == "show":
        return _show(store, args.id)
    with PolicyLedger(store) as ledger:
        if args.command == "history":
            return _history(ledger)
        return _verify(ledger)


def _decide(args: argparse.Namespace, config: AppConfig, store: Path) -> int:
    store.parent.mkdir(parents=True, exist_ok=True)
    if args.command == "rollback":
        decision = promotion.rollback(config, store, operator=args.operator, reason=args.reason,
                                      to=args.to)
        _report(decision)
        _go_live(args, config, decision)
        return 0
    if args.command == "candidate" and args.verb == "auto":
        verdicts = auto_candidates(config, store, args.run)
        if not verdicts:
            print("no validated survivor in that run: nothing to add")
            return 0
        _print_table(("trial", "policy", "verdict", "why"),
                     [(v.trial[:12], v.policy, "ADDED" if v.kept else "left",
                       _cut(v.why, 70)) for v in verdicts])
        outcomes = None if args.offline else offer_candidates(
            config, store, [v.policy for v in verdicts if v.kept])
        for outcome in outcomes or ():
            _print_candidate_outcome(outcome)
        return 0
    subject = promotion.resolve(config, store, args.id)
    if args.command == "check":
        results = promotion.check(config, store, subject)
        print(f"policy {subject.spec.hash}")
        _print_gates(results)
        return REFUSED if any(not r.passed for r in results) else 0
    if args.command == "candidate":
        flow = promotion.add_candidate if args.verb == "add" else promotion.remove_candidate
        extra = {"config": config} if args.verb == "add" else {}
        decision = flow(store=store, subject=subject, operator=args.operator,
                        reason=args.reason, **extra)
        _report(decision)
        _candidate_live(args, config, decision)
        return 0
    try:
        decision = promotion.promote(config, store, subject, operator=args.operator,
                                     reason=args.reason, dry_run=args.dry_run)
    except GatesRefusedError as refused:
        print(f"policy {subject.spec.hash}: promotion REFUSED by the gates")
        _print_gates(refused.results)
        return REFUSED
    _print_gates(decision.gates)
    _report(decision)
    _go_live(args, config, decision)
    return 0


def _go_live(args: argparse.Namespace, config: AppConfig, decision: Decision) -> None:
    """Swap the running session's policy, if a session runs (see actors.governance.live)."""
    if decision.entry is None or args.offline:
        return
    positions = args.positions or config.governance.swap_positions
    outcomes = ask_running_session(config, lambda: activation_requests(
        decision, positions=positions, drift=lambda spec: drift_json(config, spec)[0]))
    if outcomes is None:
        print("no session is running: it takes effect when the next session starts")
        return
    swap, *candidates = outcomes
    if swap["status"] == "applied":
        print(f"the running session trades {swap['policy']} from step {swap['from_seq']} "
              f"(bar {_when(swap['ts'])} UTC), {positions} positions")
    else:
        print(f"the running session did not swap ({swap['reason']}): it takes effect when "
              "the next session starts")
        return
    for outcome in candidates:
        _print_candidate_outcome(outcome, quiet_not_trading=True)


def _candidate_live(args: argparse.Namespace, config: AppConfig, decision: Decision) -> None:
    """Add or remove the candidate in the running session, if a session runs."""
    entry = decision.entry
    if entry is None or args.offline:
        return
    if args.verb == "add":
        outcomes = ask_running_session(config, lambda: [candidate_add_request(
            entry.spec, f"{entry.action.value} (ledger entry {entry.seq}): {entry.reason}",
            drift_json(config, entry.spec)[0])])
    else:
        outcomes = ask_running_session(config, lambda: [candidate_remove_request(
            entry.spec.hash, f"{entry.action.value} (ledger entry {entry.seq}): "
            f"{entry.reason}")])
    if outcomes is None:
        print("no session is running: it takes effect when the next session starts")
        return
    _print_candidate_outcome(outcomes[0])


def _print_candidate_outcome(outcome: dict, quiet_not_trading: bool = False) -> None:
    if outcome["status"] == "applied":
        what = "paper-trades" if outcome["action"] == "add" else "stops paper-trading"
        step = outcome["from_seq"] if outcome["action"] == "add" else outcome["from_seq"] - 1
        print(f"the running session {what} candidate {outcome['candidate']} "
              f"{'from' if outcome['action'] == 'add' else 'after'} step {step} "
              f"(bar {_when(outcome['ts'])} UTC)")
    elif not (quiet_not_trading and "is not trading" in outcome.get("reason", "")):
        print(f"the running session keeps its candidates ({outcome['reason']}): it takes "
              "effect when the next session starts")


def _report(decision: Decision) -> None:
    if decision.entry is not None:
        entry = decision.entry
        print(f"ledger entry {entry.seq}: {entry.action.value} {entry.policy_hash} by "
              f"{entry.decided_by} (entry hash {entry.hash[:16]})")
    for note in decision.notes:
        print(f"note: {note}")


def _print_gates(results: tuple[GateResult, ...]) -> None:
    if not results:
        return
    rows = [(r.name, "n/a" if r.value is None else f"{r.value:.4g}", r.threshold,
             "PASS" if r.passed else "FAIL", _cut(r.note, 60)) for r in results]
    _print_table(("gate", "value", "threshold", "verdict", "note"), rows)


def _list(store: Path, statuses: list[str], layer: str | None) -> int:
    with TrialRegistry(store) as registry:
        rows = [(t, s) for t, s in registry.standing(statuses)
                if layer is None or t.layer == layer]
        table = []
        for trial, status in rows:
            try:
                policy = registry.policy(trial.hash, trial.layer).hash
            except RegistryError:
                policy = "-"
            table.append((trial.layer, trial.hash[:12], status, f"{trial.objective:.3f}",
                          policy, _cut(trial.text, 48)))
    if not table:
        print(f"no alpha is {' or '.join(statuses)} in {store}")
        return 0
    _print_table(("layer", "trial", "status", "objective", "policy", "expression"), table)
    return 0


def _show(store: Path, wanted: str) -> int:
    with TrialRegistry(store) as registry:
        found = registry.find(wanted)
        if len(found) > 1:
            names = ", ".join(f"{t.layer}/{t.hash}" for t in found[:5])
            raise UsageError(f"{wanted!r} names {len(found)} trials ({names}); give more of "
                             "the hash")
        if found:
            trial = found[0]
            print(f"trial {trial.hash} (layer {trial.layer}, run {trial.run_id}, generation "
                  f"{trial.generation})")
            print(f"expression: {trial.text}")
            print(f"objective: {trial.objective:.4f}")
            print("lifecycle:")
            for move in registry.history(trial.hash, trial.layer):
                print(f"  {move.seq:>6}  {move.from_status or '-':>9} -> {move.to_status:<9}"
                      f"  {move.reason}")
            try:
                policy = registry.policy(trial.hash, trial.layer)
            except RegistryError as exc:
                print(f"policy: none ({exc})")
                return 0
            print(f"policy {policy.hash}:")
            print(json.dumps(json.loads(policy.canonical_json()), indent=2, sort_keys=True))
            return 0
    with PolicyLedger(store) as ledger:
        entries = [e for e in ledger.entries() if e.policy_hash.startswith(wanted)]
    if not entries:
        raise UsageError(f"no trial and no ledger policy named {wanted!r} in {store}")
    print(f"policy {entries[-1].policy_hash}:")
    print(json.dumps(json.loads(entries[-1].policy), indent=2, sort_keys=True))
    print("ledger:")
    for entry in entries:
        print(f"  {entry.seq:>4}  {_when(entry.at_ms)}  {entry.action.value:<16} "
              f"{entry.decided_by}: {entry.reason}")
    return 0


def _history(ledger: PolicyLedger) -> int:
    entries = ledger.entries()
    if not entries:
        print(f"the policy ledger in {ledger.path} is empty")
        return 0
    rows = [(str(e.seq), _when(e.at_ms), e.action.value, e.policy_hash,
             f"{sum(g.passed for g in e.gates)}/{len(e.gates)}", e.decided_by,
             _cut(e.reason, 40)) for e in entries]
    _print_table(("#", "when (UTC)", "action", "policy", "gates", "decided by", "reason"), rows)
    return 0


def _verify(ledger: PolicyLedger) -> int:
    problems = ledger.verify()
    entries = ledger.entries() if not problems else []
    if problems:
        for problem in problems:
            print(f"ledger: {problem}", file=sys.stderr)
        print(f"the policy ledger in {ledger.path} does NOT verify", file=sys.stderr)
        return VERIFY_FAILED
    tail = entries[-1].hash if entries else "(empty)"
    print(f"the policy ledger in {ledger.path} verifies: {len(entries)} entries, tail {tail}")
    return 0


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return run_command(lambda: run(args))
    except BrokenPipeError:  # the reader went away (``| head``): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
