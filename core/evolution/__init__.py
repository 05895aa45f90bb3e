"""The evolution core: typed GP over the DSL, MAP-Elites archive, ask/tell engine, gates.

Public names load on first use (PEP 562), so a Ray worker importing one record type does not
pay for pyribs and DEAP.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AnyScalar": "core.evolution.pset",
    "ArchiveStats": "core.evolution.archive",
    "CLONE": "core.evolution.variation",
    "Candidate": "core.evolution.genome",
    "ClipHigh": "core.evolution.pset",
    "ClipLow": "core.evolution.pset",
    "DSLPrimitiveSet": "core.evolution.pset",
    "Elite": "core.evolution.genome",
    "EliteArchive": "core.evolution.archive",
    "EngineState": "core.evolution.state",
    "Evaluation": "core.evolution.genome",
    "EvolutionEngine": "core.evolution.engine",
    "EvolutionError": "core.evolution.genome",
    "GateResult": "core.evolution.gates",
    "GenerationReport": "core.evolution.engine",
    "OPERATOR_NAMES": "core.evolution.variation",
    "PowExponent": "core.evolution.pset",
    "QD_SCORE_OFFSETS": "core.evolution.archive",
    "ScalarArg": "core.evolution.pset",
    "Series": "core.evolution.pset",
    "TrialRecord": "core.evolution.state",
    "Variation": "core.evolution.variation",
    "VariationOps": "core.evolution.engine",
    "WindowArg": "core.evolution.pset",
    "apply_gates": "core.evolution.gates",
    "build_pset": "core.evolution.pset",
    "config_fingerprint": "core.evolution.state",
    "derive_seed": "core.evolution.seeding",
    "from_deap": "core.evolution.convert",
    "random_genome": "core.evolution.variation",
    "score_genome": "core.evolution.objective",
    "seeded": "core.evolution.seeding",
    "to_deap": "core.evolution.convert",
    "vary": "core.evolution.variation",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
