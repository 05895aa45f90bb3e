"""The evolution core: typed GP over the DSL, MAP-Elites archive, ask/tell engine, gates."""

from core.evolution.archive import QD_SCORE_OFFSETS, ArchiveStats, EliteArchive
from core.evolution.convert import from_deap, to_deap
from core.evolution.engine import EvolutionEngine, GenerationReport, VariationOps
from core.evolution.gates import GateResult, apply_gates
from core.evolution.genome import Candidate, Elite, Evaluation, EvolutionError
from core.evolution.objective import score_genome
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
from core.evolution.state import EngineState, TrialRecord, config_fingerprint
from core.evolution.variation import CLONE, OPERATOR_NAMES, Variation, random_genome, vary

__all__ = [
    "CLONE",
    "OPERATOR_NAMES",
    "QD_SCORE_OFFSETS",
    "AnyScalar",
    "ArchiveStats",
    "Candidate",
    "ClipHigh",
    "ClipLow",
    "DSLPrimitiveSet",
    "Elite",
    "EliteArchive",
    "EngineState",
    "Evaluation",
    "EvolutionEngine",
    "EvolutionError",
    "GateResult",
    "GenerationReport",
    "PowExponent",
    "ScalarArg",
    "Series",
    "TrialRecord",
    "Variation",
    "VariationOps",
    "WindowArg",
    "apply_gates",
    "build_pset",
    "config_fingerprint",
    "derive_seed",
    "from_deap",
    "random_genome",
    "score_genome",
    "seeded",
    "to_deap",
    "vary",
]
