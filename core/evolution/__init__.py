"""The evolution core: typed GP variation over the DSL (DEAP), seeding, and the engine."""

from core.evolution.convert import from_deap, to_deap
from core.evolution.pset import (
    AnyScalar,
    ClipHigh,
    ClipLow,
    DSLPrimitiveSet,
    PowExponent,
    ScalarArg,
    Series,
    WindowArg,
    build_pset,
)
from core.evolution.seeding import derive_seed, seeded
from core.evolution.variation import CLONE, OPERATOR_NAMES, Variation, random_genome, vary

__all__ = [
    "from_deap",
    "to_deap",
    "AnyScalar",
    "ClipHigh",
    "ClipLow",
    "DSLPrimitiveSet",
    "PowExponent",
    "ScalarArg",
    "Series",
    "WindowArg",
    "build_pset",
    "derive_seed",
    "seeded",
    "CLONE",
    "OPERATOR_NAMES",
    "Variation",
    "random_genome",
    "vary",
]

# --- the MAP-Elites engine: records, objective, descriptors, archive, ask/tell, checkpoints ---
from core.evolution.archive import QD_SCORE_OFFSETS, ArchiveStats, EliteArchive  # noqa: E402
from core.evolution.engine import EvolutionEngine, GenerationReport, VariationOps  # noqa: E402
from core.evolution.genome import Candidate, Elite, Evaluation, EvolutionError  # noqa: E402
from core.evolution.objective import score_genome  # noqa: E402
from core.evolution.state import EngineState, TrialRecord, config_fingerprint  # noqa: E402

__all__ += [
    "QD_SCORE_OFFSETS",
    "ArchiveStats",
    "EliteArchive",
    "EvolutionEngine",
    "GenerationReport",
    "VariationOps",
    "Candidate",
    "Elite",
    "Evaluation",
    "EvolutionError",
    "score_genome",
    "EngineState",
    "TrialRecord",
    "config_fingerprint",
]
