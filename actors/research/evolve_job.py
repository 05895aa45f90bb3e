"""An evolution run: engine (ask/tell) + Ray farm + registry + per-generation checkpoints.

The engine asks, the farm scores (as Ray tasks over data shared once), the engine is told in
ask order, every trial is recorded once in the registry and the engine's state is
checkpointed — trials and checkpoint of a generation in one transaction, so a killed run
resumes from a consistent generation and reaches exactly the archive an uninterrupted run
reaches. Bars from ``holdout_from`` on are never shown to the search.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from actors.adapters.sqlite_registry import TrialRegistry
from actors.research.farm import EvaluationFarm, Spread
from actors.research.ray_runtime import connect
from actors.runs.market_data import load_series
from actors.runs.provenance import code_version
from actors.runs.window import WindowRequest
from configs.app import AppConfig
from configs.identity import config_id
from core.backtest import MarketArrays
from core.data import Candles
from core.dsl.data import AlphaData
from core.errors import UsageError
from core.evolution import EngineState, EvolutionEngine, score_genome
from core.evolution.engine import GenerationReport
from core.governance.policy import PolicyTemplate, provenance_of

ProgressFn = Callable[[int, GenerationReport, "GenerationStats"], None]


@dataclass(frozen=True)
class EvolveJob:
    """What to search, where, and how long.

    Attributes:
        config: Effective application config (its ``evolution`` section drives the engine).
        symbols: Universe of the search.
        layer: Search layer name (recorded with every trial).
        generations: Total generations of the run (a resumed run continues up to it).
        workers: Ray tasks in flight.
        seed: Master seed.
        run_id: Name of the run (its checkpoints and folder).
        holdout_from_ms: First bar the search never sees (None = no holdout).
        address: Ray cluster to join (None starts a local one).
        batch_size: Genomes per Ray task.
        timeout_s: Per-genome time limit.
    """

    config: AppConfig
    symbols: tuple[str, ...]
    layer: str
    generations: int
    workers: int
    seed: int
    run_id: str
    holdout_from_ms: int | None = None
    address: str | None = None
    batch_size: int = 8
    timeout_s: float = 60.0


@dataclass
class GenerationStats:
    """Progress figures of one generation."""

    generation: int
    evaluated: int
    failures: int
    seconds: float
    coverage: float
    qd_score: float
    best: float
    trials: int

    @property
    def evals_per_s(self) -> float:
        """Genomes scored per second in this generation."""
        return self.evaluated / self.seconds if self.seconds > 0 else 0.0


@dataclass
class EvolveOutcome:
    """The end state of a run."""

    engine: EvolutionEngine
    search: tuple[Candles, ...]
    holdout: tuple[Candles, ...]
    history: list[GenerationStats] = field(default_factory=list)
    resumed_from: int | None = None


def split_holdout(candles: tuple[Candles, ...], holdout_from_ms: int | None
                  ) -> tuple[tuple[Candles, ...], tuple[Candles, ...]]:
    """Search bars (before the holdout) and all bars (the holdout is scored on the latter)."""
    if holdout_from_ms is None:
        return candles, ()
    search = tuple(c.between(None, holdout_from_ms) for c in candles)
    if len(search[0]) < 500:
        raise UsageError(f"only {len(search[0])} bars before --holdout-from; the search "
                         "needs at least 500")
    if len(candles[0].between(holdout_from_ms, None)) < 2:
        raise UsageError("--holdout-from leaves no bars for the holdout")
    return search, candles


def _engine(job: EvolveJob, registry: TrialRegistry, terminals: tuple[str, ...]
            ) -> tuple[EvolutionEngine, int | None]:
    checkpoint = registry.latest_checkpoint(job.run_id)
    if checkpoint is None:
        return EvolutionEngine(job.config.evolution, seed=job.seed, terminals=terminals), None
    state = EngineState.from_dict(json.loads(checkpoint.payload.decode()))
    engine = EvolutionEngine.from_state(job.config.evolution, state)
    return engine, checkpoint.generation


def run_template(job: EvolveJob, search: tuple[Candles, ...]) -> PolicyTemplate:
    """What the run scores every genome with: its trials' policies but their expressions."""
    config = job.config
    first = min(int(c.timestamp[0]) for c in search)
    last = max(int(c.timestamp[-1]) for c in search)
    provenance = provenance_of(code=code_version(), config_id=config_id(config), seed=job.seed)
    return PolicyTemplate(config.evolution.objective.mapping, config.backtest,
                          config.risk.effective(), tuple(job.symbols), config.data.timeframe,
                          (first, last), provenance)


def run_evolution(job: EvolveJob, registry: TrialRegistry, *,
                  progress: ProgressFn | None = None) -> EvolveOutcome:
    """Run (or resume) the search up to ``job.generations`` generations.

    Raises:
        UsageError: No data, or a holdout that leaves too little to search.
    """
    loaded = load_series(job.config, job.symbols, WindowRequest.everything())
    search, holdout = split_holdout(loaded.candles, job.holdout_from_ms)
    market = MarketArrays.from_candles(list(search))
    registry.record_run(job.run_id, job.layer, run_template(job, search))
    data = AlphaData.from_market(market)
    terminals = tuple(name for name in ("open", "high", "low", "close", "volume", "returns",
                                        "vwap", "funding") if name in data.series)
    engine, resumed = _engine(job, registry, terminals)
    outcome = EvolveOutcome(engine, search, holdout, resumed_from=resumed)
    if engine.generation >= job.generations:
        return outcome
    handle = connect(job.address, num_cpus=job.config.ray.num_cpus,
                     object_store_memory=_store_bytes(job.config),
                     namespace=job.config.ray.namespace)
    try:
        farm = EvaluationFarm((data, market, job.config.evolution.objective,
                               job.config.backtest), Spread(score_genome),
                              workers=job.workers, batch_size=job.batch_size,
                              timeout_s=job.timeout_s)
        config_json = job.config.evolution.model_dump_json()
        while engine.generation < job.generations:
            started = time.perf_counter()
            candidates = engine.ask()
            evaluations = farm.evaluate(candidates, n_trials=max(engine.scoring_trials, 1))
            report = engine.tell(evaluations)
            with registry.transaction():
                for candidate, evaluation in zip(candidates, evaluations, strict=True):
                    registry.record(candidate, evaluation, layer=job.layer, run_id=job.run_id)
                registry.save_checkpoint(job.run_id, engine.generation,
                                         json.dumps(engine.state().to_dict()).encode(),
                                         config_json)
            stats = engine.archive.stats
            outcome.history.append(GenerationStats(
                generation=engine.generation, evaluated=len(candidates),
                failures=sum(not e.ok for e in evaluations),
                seconds=time.perf_counter() - started, coverage=float(stats.coverage),
                qd_score=float(stats.qd_score), best=float(stats.best),
                trials=engine.trials))
            if progress is not None:
                progress(job.generations, report, outcome.history[-1])
    finally:
        handle.shutdown()
    return outcome


def _store_bytes(config: AppConfig) -> int | None:
    megabytes = config.ray.object_store_memory_mb
    return None if megabytes is None else megabytes * 1024 * 1024
