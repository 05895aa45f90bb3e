"""Checkpoint of the discovery engine as plain data (JSON-ready), and back.

The engine holds no random-generator state: every draw comes from a generator seeded by
``derive_seed(run seed, generation, ...)``, so the state below — with the config, seed and
terminals it was made with — determines every later ask. Writing it to disk is the caller's
job (``core`` does no I/O); :meth:`EngineState.to_dict` gives canonical plain data (sorted
keys and rows, NaN as None) that ``json.dumps`` writes byte for byte the same every time.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from configs.evolution import EvolutionConfig
from core.evolution.genome import EvolutionError

__all__ = ["STATE_VERSION", "EngineState", "TrialRecord", "config_fingerprint"]

STATE_VERSION = 1
"""Layout version of :meth:`EngineState.to_dict`."""


class TrialRecord(NamedTuple):
    """What the engine remembers of every distinct expression it had evaluated.

    Attributes:
        genome_id: The genome that was evaluated for this structural hash.
        ok: Whether it scored.
        objective: Its objective (NaN on failure).
        measures: Its unclipped measures (NaNs on failure).
    """

    genome_id: int
    ok: bool
    objective: float
    measures: tuple[float, float, float]


def config_fingerprint(config: EvolutionConfig) -> str:
    """First 16 hex characters of the sha256 of the config's JSON (detects a changed config)."""
    return hashlib.sha256(config.model_dump_json().encode("utf-8")).hexdigest()[:16]


def _plain(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class EngineState:
    """Everything an :class:`~core.evolution.engine.EvolutionEngine` needs to continue.

    Attributes:
        config_hash: :func:`config_fingerprint` of the run's config.
        seed: The run seed.
        terminals: Terminals the search draws from.
        generation: Generations completed (the next ask is for this one).
        next_id: Next genome id.
        archive: :meth:`EliteArchive.to_state` of the grid.
        genomes: Canonical text of every genome holding a cell, by id.
        trials: Every distinct structural hash evaluated so far and its record.
        counters: Run counters (asked, duplicates, evaluated, failures, improvements).
        version: Layout version.
    """

    config_hash: str
    seed: int
    terminals: tuple[str, ...]
    generation: int
    next_id: int
    archive: dict[str, Any]
    genomes: dict[int, str]
    trials: dict[str, TrialRecord]
    counters: dict[str, int] = field(default_factory=dict)
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain data: lists, dicts with string keys, numbers, strings, None."""
        trials = [[h, r.genome_id, r.ok, _plain(r.objective), *(_plain(m) for m in r.measures)]
                  for h, r in sorted(self.trials.items())]
        return {
            "version": self.version,
            "config_hash": self.config_hash,
            "seed": self.seed,
            "terminals": list(self.terminals),
            "generation": self.generation,
            "next_id": self.next_id,
            "archive": {"qd_offset": self.archive["qd_offset"],
                        "genome_ids": list(self.archive["genome_ids"]),
                        "objectives": list(self.archive["objectives"]),
                        "measures": [list(m) for m in self.archive["measures"]]},
            "genomes": [[i, self.genomes[i]] for i in sorted(self.genomes)],
            "trials": trials,
            "counters": dict(sorted(self.counters.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineState:
        """Rebuild the state from :meth:`to_dict` output (e.g. after a JSON round trip).

        Raises:
            EvolutionError: On another layout version or missing fields.
        """
        if data.get("version") != STATE_VERSION:
            raise EvolutionError(f"engine state version {data.get('version')!r} is not "
                                 f"{STATE_VERSION}: this checkpoint was written by another "
                                 "version of the engine")
        try:
            trials = {str(row[0]): TrialRecord(int(row[1]), bool(row[2]), _float(row[3]),
                                               (_float(row[4]), _float(row[5]),
                                                _float(row[6])))
                      for row in data["trials"]}
            return cls(
                config_hash=str(data["config_hash"]), seed=int(data["seed"]),
                terminals=tuple(str(t) for t in data["terminals"]),
                generation=int(data["generation"]), next_id=int(data["next_id"]),
                archive=dict(data["archive"]),
                genomes={int(i): str(text) for i, text in data["genomes"]},
                trials=trials,
                counters={str(k): int(v) for k, v in data["counters"].items()},
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise EvolutionError(f"malformed engine state: {type(exc).__name__}: {exc}"
                                 ) from None
