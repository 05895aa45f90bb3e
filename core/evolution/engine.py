"""MAP-Elites discovery engine: ask for genomes, be told their scores. It never evaluates.

Generation ``g`` asks ``initial_random`` random genomes while the archive is empty (always in
generation 0), otherwise ``population`` children: parent pairs are drawn uniformly from the
archive's elites (cell order) by a generator seeded ``derive_seed(seed, g, PARENTS)``, and
child ``i`` comes from ``vary(parents, derive_seed(seed, g, VARY, i), ...)`` — GP variation is
the emitter over the elites. Random genome ``i`` uses ``derive_seed(seed, g, RANDOM, i)``.

A genome whose structural hash was evaluated before (or already appears earlier in the same
batch) is not asked again: it is counted in ``duplicates`` and gets no id. Every distinct
hash told is a trial (:attr:`EvolutionEngine.trials`), which DSR and FDR use.

The engine is a pure function of (config, seed, terminals, evaluations told), so the archive
does not depend on how many workers evaluated a batch — only ``tell`` order matters, and it
must be the ask order. ``ask`` changes nothing but the pending batch (asking twice returns the
same batch), so :meth:`EvolutionEngine.state` taken at any point, restored with
:meth:`EvolutionEngine.from_state` and told the same evaluations, continues exactly as an
engine that never stopped. pyribs' own emitters (e.g. to tune numeric constants) are not
used: constants are varied by the GP's constant mutation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from configs.evolution import EvolutionConfig, GPConfig
from core.dsl.hashing import structural_hash
from core.dsl.nodes import Node
from core.dsl.parser import parse
from core.dsl.printer import to_text
from core.evolution.archive import QD_SCORE_OFFSETS, ArchiveStats, EliteArchive
from core.evolution.genome import MAX_GENOME_ID, Candidate, Elite, Evaluation, EvolutionError
from core.evolution.seeding import derive_seed
from core.evolution.state import EngineState, TrialRecord, config_fingerprint

__all__ = ["PARENTS", "RANDOM", "VARY", "EvolutionEngine", "GenerationReport", "VariationOps"]

RANDOM, PARENTS, VARY = 0, 1, 2
"""Stream tags of :func:`derive_seed` for random genomes, parent draws and variations."""

COUNTERS = ("asked", "duplicates", "evaluated", "failures", "improvements")


class VariationOps(Protocol):
    """The GP operators (the module ``core.evolution.variation`` satisfies this)."""

    def random_genome(self, seed: int, gp_config: GPConfig, terminals: Sequence[str]) -> Node:
        """A random expression."""
        ...

    def vary(self, parents: Sequence[Node], seed: int, gp_config: GPConfig,
             terminals: Sequence[str]) -> Any:
        """A child with ``.child``, ``.operator`` and ``.parent_indices``."""
        ...


@dataclass(frozen=True)
class GenerationReport:
    """What one ``tell`` did (for logs and the run ledger)."""

    generation: int
    asked: int
    duplicates: int
    failures: int
    improvements: int
    trials: int
    archive: ArchiveStats


class EvolutionEngine:
    """Ask/tell MAP-Elites over DSL expressions (see the module docstring)."""

    def __init__(self, config: EvolutionConfig, *, seed: int, terminals: Sequence[str],
                 variation: VariationOps | None = None) -> None:
        """Create an engine at generation 0 with an empty archive.

        Args:
            config: Population sizes, GP settings, grid and objective (for the QD offset).
            seed: The run seed; every random draw derives from it.
            terminals: Terminals random genomes and mutations may read.
            variation: The GP operators; None = ``core.evolution.variation``.
        """
        if variation is None:
            from core.evolution import variation as default_variation
            variation = default_variation  # type: ignore[assignment]
        self.config = config
        self.seed = int(seed)
        self.terminals = tuple(terminals)
        self._variation: VariationOps = variation  # type: ignore[assignment]
        self.archive = EliteArchive(config.archive,
                                    qd_offset=QD_SCORE_OFFSETS[config.objective.metric])
        self.generation = 0
        self._next_id = 0
        self._nodes: dict[int, Node] = {}
        self._texts: dict[int, str] = {}
        self._trials: dict[str, TrialRecord] = {}
        self.counters = dict.fromkeys(COUNTERS, 0)
        self._pending: tuple[list[Candidate], int] | None = None

    @property
    def trials(self) -> int:
        """Distinct structural hashes evaluated so far (told)."""
        return len(self._trials)

    @property
    def scoring_trials(self) -> int:
        """``n_trials`` for scoring the pending batch: trials told plus the batch asked."""
        return self.trials + (len(self._pending[0]) if self._pending else 0)

    def lookup(self, hash_: str) -> TrialRecord | None:
        """The record of an already evaluated structural hash, or None."""
        return self._trials.get(hash_)

    def elites(self) -> list[Elite]:
        """The archive's elites in cell order, with their expressions' text."""
        return [replace(e, text=self._texts[e.genome_id]) for e in self.archive.elites()]

    def ask(self) -> list[Candidate]:
        """The genomes to evaluate this generation (the same list until :meth:`tell`)."""
        if self._pending is None:
            self._pending = self._propose()
        return list(self._pending[0])

    def _propose(self) -> tuple[list[Candidate], int]:
        gen, gp = self.generation, self.config.gp
        if len(self.archive) == 0:
            offspring = [(self._variation.random_genome(
                derive_seed(self.seed, gen, RANDOM, i), gp, self.terminals), (), "random")
                for i in range(self.config.initial_random)]
        else:
            pairs = self.archive.sample(derive_seed(self.seed, gen, PARENTS),
                                        self.config.population)
            offspring = []
            for i, pair in enumerate(pairs):
                made = self._variation.vary([self._node(e.genome_id) for e in pair],
                                            derive_seed(self.seed, gen, VARY, i), gp,
                                            self.terminals)
                parents = tuple(pair[j].genome_id for j in made.parent_indices)
                offspring.append((made.child, parents, str(made.operator)))
        batch: list[Candidate] = []
        seen: set[str] = set()
        for node, parents, operator in offspring:
            digest = structural_hash(node)
            if digest in self._trials or digest in seen:
                continue
            seen.add(digest)
            genome_id = self._next_id + len(batch)
            if genome_id >= MAX_GENOME_ID:
                raise EvolutionError("genome ids exhausted (2**53)")
            batch.append(Candidate(genome_id=genome_id, node=node, text=to_text(node),
                                   hash=digest, parents=parents, generation=gen,
                                   operator=operator))
        return batch, len(offspring) - len(batch)

    def tell(self, evaluations: Sequence[Evaluation]) -> GenerationReport:
        """Record the scores of the asked batch, in ask order, and close the generation.

        Raises:
            EvolutionError: Without a pending ask, or if the evaluations are not exactly the
                asked genome ids in ask order.
        """
        if self._pending is None:
            raise EvolutionError("tell() without a pending ask(): call ask() first")
        batch, duplicates = self._pending
        evaluations = list(evaluations)
        expected = [c.genome_id for c in batch]
        got = [e.genome_id for e in evaluations]
        if got != expected:
            raise EvolutionError(
                f"tell() needs the evaluations of the asked genomes in ask order: expected "
                f"ids {_preview(expected)}, got {_preview(got)}")
        for candidate, evaluation in zip(batch, evaluations, strict=True):
            self._trials[candidate.hash] = TrialRecord(
                candidate.genome_id, bool(evaluation.ok), float(evaluation.objective),
                tuple(float(m) for m in evaluation.measures))  # type: ignore[arg-type]
            if evaluation.ok:
                self._texts[candidate.genome_id] = candidate.text
        improvements = self.archive.add(evaluations)
        self._prune()
        failures = sum(1 for e in evaluations if not e.ok)
        for key, value in (("asked", len(batch)), ("duplicates", duplicates),
                           ("evaluated", len(batch)), ("failures", failures),
                           ("improvements", improvements)):
            self.counters[key] += value
        self._next_id += len(batch)
        self._pending = None
        report = GenerationReport(self.generation, len(batch), duplicates, failures,
                                  improvements, self.trials, self.archive.stats)
        self.generation += 1
        return report

    def _node(self, genome_id: int) -> Node:
        """An elite's expression, parsed from its text (so a resumed engine sees the same)."""
        node = self._nodes.get(genome_id)
        if node is None:
            node = self._nodes[genome_id] = parse(self._texts[genome_id])
        return node

    def _prune(self) -> None:
        """Keep the genome table to the genomes holding a cell."""
        alive = self.archive.genome_ids()
        self._nodes = {i: n for i, n in self._nodes.items() if i in alive}
        self._texts = {i: t for i, t in self._texts.items() if i in alive}

    def state(self) -> EngineState:
        """The committed state (a pending ask is not part of it: it is re-asked on resume)."""
        return EngineState(
            config_hash=config_fingerprint(self.config), seed=self.seed,
            terminals=self.terminals, generation=self.generation, next_id=self._next_id,
            archive=self.archive.to_state(), genomes=dict(self._texts),
            trials=dict(self._trials), counters=dict(self.counters))

    @classmethod
    def from_state(cls, config: EvolutionConfig, state: EngineState, *,
                   variation: VariationOps | None = None) -> EvolutionEngine:
        """An engine that continues exactly where ``state`` was taken.

        Raises:
            EvolutionError: If the config differs from the run's or the state is inconsistent.
        """
        if state.config_hash != config_fingerprint(config):
            raise EvolutionError("the config differs from the one of the checkpointed run "
                                 f"(fingerprint {config_fingerprint(config)} vs "
                                 f"{state.config_hash}); resume with the original config")
        engine = cls(config, seed=state.seed, terminals=state.terminals, variation=variation)
        engine.archive = EliteArchive.from_state(config.archive, state.archive)
        missing = engine.archive.genome_ids() - set(state.genomes)
        if missing:
            raise EvolutionError(f"engine state lacks the text of elites {sorted(missing)[:5]}")
        engine.generation = state.generation
        engine._next_id = state.next_id
        engine._texts = dict(state.genomes)
        engine._trials = dict(state.trials)
        engine.counters = {**dict.fromkeys(COUNTERS, 0), **state.counters}
        return engine


def _preview(ids: list[int]) -> str:
    return str(ids) if len(ids) <= 8 else f"{ids[:8]}... ({len(ids)} ids)"
