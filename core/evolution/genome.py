"""Plain records of the discovery engine: what is asked, what comes back, what is kept.

Genome ids come from a counter owned by :class:`~core.evolution.engine.EvolutionEngine`; they
are below ``2**53`` so they survive a trip through a float64 (the archive stores them as its
one-dimensional "solution").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.dsl.nodes import Node
from core.errors import EvotraderError

MAX_GENOME_ID = 2**53
"""Genome ids are ``0 <= id < MAX_GENOME_ID`` (exactly representable as float64)."""

N_MEASURES = 3
"""Behaviour descriptors: turnover, log1p(holding period), correlation to buy-and-hold."""

MEASURE_NAMES = ("turnover", "holding", "correlation")
"""Names of the measures, in archive order."""


@dataclass(frozen=True)
class Candidate:
    """A genome the engine wants evaluated.

    Attributes:
        genome_id: Engine-assigned id, unique within a run.
        node: The expression.
        text: Its canonical text (``to_text(node)``).
        hash: Its structural hash (``structural_hash(node)``).
        parents: Genome ids of the parents (empty for random genomes).
        generation: Generation in which it was asked.
        operator: The variation that produced it (``"random"`` for random genomes).
    """

    genome_id: int
    node: Node
    text: str
    hash: str
    parents: tuple[int, ...]
    generation: int
    operator: str


@dataclass(frozen=True)
class Evaluation:
    """The score of one genome (see :func:`core.evolution.objective.score_genome`).

    Attributes:
        genome_id: The candidate's id (-1 until the caller fills it in).
        ok: False when the genome failed (raised, no finite signal, too few trades).
        objective: The out-of-sample score after costs (NaN on failure).
        measures: ``(turnover, log1p(holding bars), correlation)``, unclipped (NaN on failure).
        metrics: Headline numbers (full-period and OOS statistics), floats only.
        folds: Per walk-forward fold: ``sharpe``, ``return``, ``bars``, ``start``, ``stop``.
        error: Why the genome failed, or None.
    """

    genome_id: int
    ok: bool
    objective: float
    measures: tuple[float, float, float]
    metrics: dict[str, float] = field(default_factory=dict)
    folds: tuple[dict[str, float], ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Elite:
    """An occupant of an archive cell.

    Attributes:
        genome_id: Id of the genome.
        index: Cell index in the grid (row-major over turnover, holding, correlation).
        objective: Its score.
        measures: Its measures, clipped into the grid's ranges.
        text: Canonical text of the expression ("" where the archive alone cannot know it).
    """

    genome_id: int
    index: int
    objective: float
    measures: tuple[float, float, float]
    text: str = ""


def failure(genome_id: int, error: str, metrics: dict[str, float] | None = None
            ) -> Evaluation:
    """An :class:`Evaluation` for a genome that could not be scored."""
    nan = float("nan")
    return Evaluation(genome_id=genome_id, ok=False, objective=nan, measures=(nan, nan, nan),
                      metrics=dict(metrics or {}), folds=(), error=error)


class EvolutionError(EvotraderError):
    """The engine was driven wrongly: tell without ask, evaluations out of order, foreign state.

    A programming error of the caller: not retried.
    """
