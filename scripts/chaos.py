"""Kill random actors during a SIM session and check that nothing changed.

Usage::

    python scripts/chaos.py [--config FILE] [--duration 60d] [--kills 20] [--interval 0.5]
                            [--seed 7] [--batch-bars 12]

Runs the configured SIM session twice on one Ray instance: once undisturbed, once while a
chaos monkey kills random actors — feeds, slot, candidates, risk guardian, executor, store —
with ``ray.kill`` or ``SIGKILL`` to their worker process. Every kill must be restarted by its
supervisor, the run must complete, and orders, fills, positions, equity, diary and risk
events must be byte-identical to the undisturbed run (no order lost or doubled). Prints each
kill with its restore time and a verdict. Exit codes: 0 identical, 1 a difference or a kill
not restored, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence

import actors  # noqa: F401 - configures the numba cache before numba is imported
from actors.cli import run_command
from actors.live.chaos import ChaosMonkey
from actors.live.run import connect_cluster, run_session
from actors.live.tree import SessionNames
from configs.loader import load_config, with_overrides

COMPARED = ("orders.csv", "fills.csv", "positions.csv", "equity.csv", "diary.jsonl",
            "risk_events.jsonl")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="chaos.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", metavar="FILE", help="session config (default: packaged)")
    parser.add_argument("--duration", default="60d", help="market time replayed (default 60d)")
    parser.add_argument("--kills", type=int, default=20, help="number of kills (default 20)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="mean seconds between kills (default 0.5)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the victims' choice")
    parser.add_argument("--batch-bars", type=int, default=12,
                        help="bars per step: small steps make the session last (default 12)")
    return parser


def chaos(args: argparse.Namespace) -> int:
    """Run both sessions and compare; returns the exit code."""
    if args.kills < 1 or args.interval <= 0 or args.batch_bars < 1:
        from core.errors import UsageError

        raise UsageError("--kills and --batch-bars must be >= 1 and --interval > 0")
    loaded = with_overrides(load_config(args.config), {"session": {
        "duration": args.duration, "batch_bars": args.batch_bars, "speed": None}})
    config = loaded.config
    handle = connect_cluster(config)
    try:
        import ray

        calm = run_session(loaded, quiet=True)
        names = SessionNames.build(config.data.symbols,
                                   [c.name for c in config.session.candidates])
        targets = [*names.feeds, names.slot, names.guardian, names.executor, names.store,
                   *names.candidates, names.session]
        monkey = ChaosMonkey(targets, ray.get_runtime_context().namespace, kills=args.kills,
                             interval_s=args.interval, seed=args.seed)
        started: list[ChaosMonkey] = []

        def start(seq: int, _result: object) -> None:
            if seq >= 1 and not started:
                started.append(monkey.start())

        chaotic = run_session(loaded, quiet=True, on_step=start)
        kills = monkey.stop()
    finally:
        handle.shutdown()
    for kill in kills:
        restored = "NOT restored" if kill.restored_s is None else f"{kill.restored_s:.2f} s"
        print(f"killed {kill.actor} ({kill.method}, pid {kill.old_pid}) -> {restored}")
    for error in monkey.errors:
        print(f"chaos error: {error}")
    times = [k.restored_s for k in kills if k.restored_s is not None]
    if times:
        print(f"{len(kills)} kills; restore median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s")
    different = [n for n in COMPARED
                 if (calm.folder / n).read_bytes() != (chaotic.folder / n).read_bytes()]
    lost = [k.actor for k in kills if k.restored_s is None]
    print(f"undisturbed: {calm.folder}\nwith kills:  {chaotic.folder} "
          f"({chaotic.steps} steps, {sum(chaotic.retries.values())} calls retried)")
    if different or lost or chaotic.stop_reason != "end of data":
        print(f"FAIL: different files {different}, not restored {lost}, "
              f"stopped because {chaotic.stop_reason!r}")
        return 1
    print("PASS: every kill restored; orders, fills, positions, equity, diary and risk "
          "events identical to the undisturbed run")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: chaos(args))


if __name__ == "__main__":
    sys.exit(main())
