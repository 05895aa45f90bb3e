r"""Discover alphas: GP + MAP-Elites, scored out of sample after costs, farmed out on Ray.

Example::

    python scripts/evolve.py --symbols BTC/USDT,ETH/USDT --timeframe 1h --data ../shared/data \
        --generations 30 --workers 2 --seed 7 --holdout-from 2025-01-01
    python scripts/evolve.py --resume runs/evolve/20261121T220000Z_tactical_seed7

Joins a running Ray cluster (``--address auto`` or the config's ``ray.address``) or starts a
local one. Every generation is checkpointed (with its trials) in the store, so ``--resume``
continues a killed run and reaches exactly the archive an uninterrupted run reaches. The run
folder ``runs/evolve/<run id>/`` gets the archive heatmap, the elites table, the gated
survivors (FDR over every trial + deflated Sharpe) and their results on the holdout period the
search never saw, next to buy-and-hold — reported honestly when nothing survives.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from actors.adapters.sqlite_registry import TrialRegistry
from actors.cli import run_command
from actors.research.evolve_job import EvolveJob, GenerationStats, run_evolution
from actors.research.evolve_report import elite_rows, holdout_results, write_report
from actors.runs.market_data import parse_symbols, span_text
from configs.loader import load_config, with_overrides
from core.data.times import parse_time_ms
from core.errors import UsageError
from core.evolution.engine import GenerationReport

RUN_FILE = "run.json"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="evolve.py", description=__doc__.split("\n")[0])
    parser.add_argument("--config", metavar="FILE", help="TOML config (default: default.toml)")
    parser.add_argument("--symbols", help="universe, comma-separated (e.g. BTC/USDT,ETH/USDT)")
    parser.add_argument("--timeframe", help="bar length (default: the layer's or the config's)")
    parser.add_argument("--layer", help="search layer: strategic (1d), tactical (1h), "
                                        "execution (1m) (default: by timeframe)")
    parser.add_argument("--data", help="data folder (default: data.dir of the config)")
    parser.add_argument("--venue", help="venue token (default: config)")
    parser.add_argument("--generations", type=int, help="generations to reach (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="Ray tasks in flight")
    parser.add_argument("--seed", type=int, help="master seed (default: app.seed)")
    parser.add_argument("--population", type=int, help="children per generation")
    parser.add_argument("--holdout-from", help="first bar the search never sees (YYYY-MM-DD)")
    parser.add_argument("--resume", metavar="RUN", help="run folder (or id) to continue")
    parser.add_argument("--address", help="Ray cluster to join ('auto' or host:port)")
    parser.add_argument("--batch-size", type=int, default=8, help="genomes per Ray task")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per genome")
    parser.add_argument("--fdr", type=float, default=0.05, help="false discovery rate")
    parser.add_argument("--dsr-gate", type=float, default=0.95, help="minimum deflated Sharpe")
    parser.add_argument("--out", help="root of run folders (default: <app.run_dir>/evolve)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _run_args(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters that define a run: from the command line, or from a resumed run."""
    if args.resume:
        folder = Path(args.resume)
        if not (folder / RUN_FILE).is_file():
            root = Path(args.out) if args.out else Path("runs") / "evolve"
            folder = root / args.resume
        if not (folder / RUN_FILE).is_file():
            raise UsageError(f"--resume {args.resume}: no {RUN_FILE} there; give the run "
                             "folder printed when the run started")
        saved = json.loads((folder / RUN_FILE).read_text())
        if args.generations:
            saved["generations"] = args.generations
        saved["workers"] = args.workers
        saved["folder"] = str(folder)
        return saved
    if not args.symbols:
        raise UsageError("--symbols is required for a new run (or give --resume RUN)")
    return {"symbols": list(parse_symbols(args.symbols)), "timeframe": args.timeframe,
            "layer": args.layer, "data": args.data, "venue": args.venue,
            "generations": args.generations or 30, "workers": args.workers, "seed": args.seed,
            "population": args.population, "holdout_from": args.holdout_from,
            "config": args.config, "folder": None}


def _overrides(run: dict[str, Any], layer_timeframe: str | None) -> dict[str, Any]:
    tree: dict[str, Any] = {"data": {"symbols": run["symbols"]}}
    timeframe = run["timeframe"] or layer_timeframe
    for key, value in (("dir", run["data"]), ("venue", run["venue"]), ("timeframe", timeframe)):
        if value is not None:
            tree["data"][key] = value
    if run["seed"] is not None:
        tree["app"] = {"seed": run["seed"]}
    if run["population"] is not None:
        tree["evolution"] = {"population": run["population"]}
    return tree


def _layer(run: dict[str, Any], layers: dict[str, Any], timeframe: str) -> str:
    if run["layer"]:
        if run["layer"] not in layers:
            raise UsageError(f"unknown layer {run['layer']!r}; known: {', '.join(layers)}")
        return run["layer"]
    matching = [name for name, layer in layers.items() if layer.timeframe == timeframe]
    return matching[0] if matching else f"custom-{timeframe}"


def mark_validated(registry: TrialRegistry, rows: list[dict[str, Any]], layer: str,
                   run_id: str) -> int:
    """Move the survivors of the gates from ``born`` to ``validated`` (appended, with reasons)."""
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    moved = 0
    for row in rows:
        if row["survives"] and registry.status(row["hash"], layer) == "born":
            registry.transition(row["hash"], layer, "validated", at=now_ms,
                                reason=f"passed the gates of run {run_id}: q {row['q_value']:.3g}"
                                       f", DSR {row['dsr']:.3f}")
            moved += 1
    return moved


def run(args: argparse.Namespace) -> int:
    """Run or resume a search, then gate, test on the holdout and write the run folder."""
    if args.workers < 1 or args.batch_size < 1 or not args.timeout > 0:
        raise UsageError("--workers and --batch-size must be >= 1, --timeout > 0")
    if not 0.0 < args.fdr < 1.0 or not 0.0 <= args.dsr_gate <= 1.0:
        raise UsageError("--fdr must lie in (0, 1) and --dsr-gate in [0, 1]")
    spec = _run_args(args)
    base = load_config(spec["config"])
    layer_timeframe = None
    if spec["layer"] in base.config.evolution.layers and not spec["timeframe"]:
        layer_timeframe = base.config.evolution.layers[spec["layer"]].timeframe
    loaded = with_overrides(base, _overrides(spec, layer_timeframe))
    config = loaded.config
    layer = _layer(spec, config.evolution.layers, config.data.timeframe)
    holdout_ms = parse_time_ms(spec["holdout_from"]) if spec["holdout_from"] else None
    seed = config.app.seed
    folder = Path(spec["folder"]) if spec["folder"] else \
        (Path(args.out) if args.out else Path(config.app.run_dir) / "evolve") / \
        f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}_{layer}_seed{seed}"
    run_id = folder.name
    if not spec["folder"]:
        folder.mkdir(parents=True, exist_ok=False)
        (folder / RUN_FILE).write_text(json.dumps({**spec, "folder": None, "seed": seed},
                                                  indent=2) + "\n")
    job = EvolveJob(config=config, symbols=tuple(config.data.symbols), layer=layer,
                    generations=spec["generations"], workers=spec["workers"], seed=seed,
                    run_id=run_id, holdout_from_ms=holdout_ms,
                    address=args.address or config.ray.address, batch_size=args.batch_size,
                    timeout_s=args.timeout)
    print(f"run {run_id}: layer {layer} ({config.data.timeframe}), "
          f"{', '.join(job.symbols)}, seed {seed}, up to {job.generations} generations, "
          f"{job.workers} worker(s); folder {folder}", flush=True)
    registry_path = Path(config.store.path)
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    with TrialRegistry(registry_path) as registry:
        bar = tqdm(total=job.generations, unit="gen", disable=args.no_progress or None,
                   desc="evolve")

        def progress(total: int, report: GenerationReport, stats: GenerationStats) -> None:
            bar.n = stats.generation
            bar.set_postfix(coverage=f"{stats.coverage:.1%}", qd=f"{stats.qd_score:.1f}",
                            best=f"{stats.best:.3f}", evals_s=f"{stats.evals_per_s:.0f}")
            bar.refresh()

        outcome = run_evolution(job, registry, progress=progress)
        bar.n = outcome.engine.generation
        bar.close()
        rows = elite_rows(outcome, registry, layer, fdr_alpha=args.fdr, dsr_gate=args.dsr_gate)
        validated = mark_validated(registry, rows, layer, run_id)
        holdout = holdout_results(rows, outcome, config, holdout_ms)
        stats = outcome.engine.archive.stats
        summary = {
            "run_id": run_id, "layer": layer, "timeframe": config.data.timeframe,
            "symbols": list(job.symbols), "seed": seed, "generations": outcome.engine.generation,
            "workers": job.workers, "config_id": loaded.config_id,
            "search_span": span_text(outcome.search[0]),
            "holdout_span": span_text(outcome.holdout[0].between(holdout_ms, None))
            if holdout_ms else "none", "trials_in_layer": registry.count_trials(layer),
            "trials_this_run": outcome.engine.trials, "coverage": float(stats.coverage),
            "qd_score": float(stats.qd_score), "fdr_alpha": args.fdr, "dsr_gate": args.dsr_gate,
            "resumed_from_generation": outcome.resumed_from, "validated": validated,
        }
        write_report(folder, outcome, rows, holdout, config=config, summary=summary)
    survivors = sum(r["survives"] for r in rows)
    print(f"{len(rows)} elites, {survivors} pass the gates (FDR {args.fdr}, DSR >= "
          f"{args.dsr_gate}); report: {folder / 'session.md'}")
    if survivors and config.governance.auto_candidates.enabled:
        from actors.governance.auto_candidates import auto_candidates
        from actors.governance.live import offer_candidates

        verdicts = auto_candidates(config, registry_path, run_id)
        for verdict in verdicts:
            print(f"candidate {verdict.policy} (trial {verdict.trial[:12]}): "
                  f"{'added' if verdict.kept else 'left out'}: {verdict.why}")
        for outcome in offer_candidates(config, registry_path,
                                        [v.policy for v in verdicts if v.kept]) or ():
            print(f"the running session: candidate {outcome.get('candidate', '?')} "
                  f"{outcome['status']}"
                  + (f" from step {outcome['from_seq']}" if "from_seq" in outcome else
                     f" ({outcome.get('reason', '')})"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
