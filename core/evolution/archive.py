"""The MAP-Elites archive: a pyribs ``GridArchive`` over the three behaviour descriptors.

The grid's "solution" is one float64 holding the genome id (ids stay below ``2**53``, so
exact); expressions live in the engine's genome table. Measures are clipped into the
configured ranges before they are added, so what the archive stores is what decides the cell.
Failed evaluations (and non-finite objectives) are never added.

A cell keeps the better objective; a tie keeps the incumbent (pyribs' strict ``>``). Within
one batch the best of the genomes aiming at a cell wins, so :meth:`EliteArchive.add` must be
fed in a deterministic order (the engine's ask order).

Parent selection does not touch pyribs' internal random generator (which would have to be
checkpointed): :meth:`EliteArchive.sample` draws uniformly over :meth:`EliteArchive.elites`
with a ``numpy.random.Generator`` built from a seed the caller derives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ribs.archives import GridArchive

from configs.evolution import ArchiveConfig
from core.evolution.genome import MAX_GENOME_ID, Elite, Evaluation, EvolutionError

__all__ = ["QD_SCORE_OFFSETS", "ArchiveStats", "EliteArchive"]

QD_SCORE_OFFSETS = {"oos_sharpe": -20.0, "dsr": 0.0}
"""``qd_score = sum(objective - offset)`` over the elites. The offset sits below any
realistic objective (an annualised Sharpe of -20; a DSR is in [0, 1]) so every elite adds to
the score and the score never falls as the archive fills."""


@dataclass(frozen=True)
class ArchiveStats:
    """Summary of the archive.

    Attributes:
        elites: Occupied cells.
        cells: Cells in the grid.
        coverage: ``elites / cells``.
        qd_score: ``sum(objective - qd_offset)`` over the elites.
        qd_offset: The offset used.
        best: Best objective (NaN when empty).
        mean: Mean objective (NaN when empty).
    """

    elites: int
    cells: int
    coverage: float
    qd_score: float
    qd_offset: float
    best: float
    mean: float


class EliteArchive:
    """Grid of elites over turnover x log1p(holding) x correlation."""

    def __init__(self, config: ArchiveConfig, *, qd_offset: float = 0.0) -> None:
        """Create an empty grid.

        Args:
            config: Bins and ranges of the three axes.
            qd_offset: Objective offset of the QD score (see :data:`QD_SCORE_OFFSETS`).
        """
        axes = (config.turnover, config.holding, config.correlation)
        self.config = config
        self.qd_offset = float(qd_offset)
        self._low = np.array([axis.low for axis in axes], dtype=np.float64)
        self._high = np.array([axis.high for axis in axes], dtype=np.float64)
        if not np.all(self._low < self._high):
            raise EvolutionError(f"archive ranges must have low < high, got {axes}")
        self._grid = GridArchive(
            solution_dim=1, dims=[axis.bins for axis in axes],
            ranges=list(zip(self._low.tolist(), self._high.tolist(), strict=True)),
            qd_score_offset=self.qd_offset, seed=0, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._grid)

    @property
    def grid(self) -> GridArchive:
        """The underlying pyribs archive (read it; add through :meth:`add`)."""
        return self._grid

    def clip(self, measures: Sequence[float]) -> tuple[float, float, float]:
        """``measures`` clipped into the grid's ranges."""
        clipped = np.clip(np.asarray(measures, dtype=np.float64), self._low, self._high)
        return tuple(float(x) for x in clipped)  # type: ignore[return-value]

    def add(self, evaluations: Sequence[Evaluation]) -> int:
        """Offer a batch of evaluations to the grid (failures are skipped).

        Args:
            evaluations: In a deterministic order (it decides ties within the batch).

        Returns:
            How many evaluations pyribs reported as new or improving (several of one batch
            aiming at the same cell may each count).
        """
        keep = [e for e in evaluations
                if e.ok and np.isfinite(e.objective) and np.all(np.isfinite(e.measures))]
        if not keep:
            return 0
        for e in keep:
            if not 0 <= e.genome_id < MAX_GENOME_ID:
                raise EvolutionError(f"genome id {e.genome_id} outside [0, 2**53)")
        return self._add([e.genome_id for e in keep], [e.objective for e in keep],
                         [self.clip(e.measures) for e in keep])

    def _add(self, ids: Sequence[int], objectives: Sequence[float],
             measures: Sequence[Sequence[float]]) -> int:
        info = self._grid.add(np.asarray(ids, dtype=np.float64).reshape(-1, 1),
                              np.asarray(objectives, dtype=np.float64),
                              np.asarray(measures, dtype=np.float64).reshape(-1, 3))
        return int(np.count_nonzero(info["status"]))

    def elites(self) -> list[Elite]:
        """Every elite, ordered by cell index."""
        data = self._grid.data()
        order = np.argsort(data["index"], kind="stable")
        return [Elite(genome_id=int(data["solution"][i, 0]), index=int(data["index"][i]),
                      objective=float(data["objective"][i]),
                      measures=tuple(float(x) for x in data["measures"][i]))  # type: ignore[arg-type]
                for i in order]

    def genome_ids(self) -> set[int]:
        """Ids of the genomes holding a cell."""
        return {int(x) for x in self._grid.data("solution")[:, 0]}

    def sample(self, seed: int, count: int, parents: int = 2) -> list[tuple[Elite, ...]]:
        """``count`` parent tuples drawn uniformly (with replacement) from the elites.

        Args:
            seed: Seed of the generator (derive it from run seed and generation).
            count: Number of tuples.
            parents: Elites per tuple.

        Raises:
            EvolutionError: If the archive is empty.
        """
        elites = self.elites()
        if not elites:
            raise EvolutionError("cannot sample parents from an empty archive")
        picks = np.random.default_rng(seed).integers(len(elites), size=(count, parents))
        return [tuple(elites[int(i)] for i in row) for row in picks]

    @property
    def stats(self) -> ArchiveStats:
        """Coverage, QD score and objective summary."""
        s = self._grid.stats
        nan = float("nan")
        return ArchiveStats(
            elites=len(self), cells=int(self._grid.cells), coverage=float(s.coverage),
            qd_score=0.0 if s.qd_score is None or len(self) == 0 else float(s.qd_score),
            qd_offset=self.qd_offset,
            best=nan if s.obj_max is None or len(self) == 0 else float(s.obj_max),
            mean=nan if s.obj_mean is None or len(self) == 0 else float(s.obj_mean))

    def data(self) -> Any:
        """The grid's contents as a pandas DataFrame (pyribs layout)."""
        return self._grid.data(return_type="pandas")

    def to_state(self) -> dict[str, Any]:
        """Plain data from which :meth:`from_state` rebuilds the same grid.

        Returns:
            ``{"qd_offset", "genome_ids", "objectives", "measures"}`` (lists, cell order).
        """
        elites = self.elites()
        return {"qd_offset": self.qd_offset,
                "genome_ids": [e.genome_id for e in elites],
                "objectives": [e.objective for e in elites],
                "measures": [list(e.measures) for e in elites]}

    @classmethod
    def from_state(cls, config: ArchiveConfig, state: dict[str, Any]) -> EliteArchive:
        """Rebuild an archive by re-adding the elites of :meth:`to_state`."""
        archive = cls(config, qd_offset=float(state["qd_offset"]))
        ids = [int(x) for x in state["genome_ids"]]
        if ids:
            archive._add(ids, [float(x) for x in state["objectives"]],
                         [[float(m) for m in row] for row in state["measures"]])
            if len(archive) != len(ids):
                raise EvolutionError("archive state does not fit this grid (two elites share "
                                     "a cell: were the archive ranges changed?)")
        return archive
