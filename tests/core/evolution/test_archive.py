"""EliteArchive: the pyribs grid keyed by genome id, its order, stats, state and sampling."""

from __future__ import annotations

import json
import math

import pytest

from configs.evolution import ArchiveConfig, DescriptorRange
from core.evolution.archive import QD_SCORE_OFFSETS, EliteArchive
from core.evolution.genome import Evaluation, EvolutionError, failure

CONFIG = ArchiveConfig(turnover=DescriptorRange(bins=4, low=0.0, high=100.0),
                       holding=DescriptorRange(bins=3, low=0.0, high=6.0),
                       correlation=DescriptorRange(bins=2, low=-1.0, high=1.0))


def ev(genome_id: int, objective: float, measures: tuple[float, float, float]) -> Evaluation:
    return Evaluation(genome_id=genome_id, ok=True, objective=objective, measures=measures)


def filled() -> EliteArchive:
    archive = EliteArchive(CONFIG, qd_offset=-20.0)
    archive.add([ev(i, (i * 37 % 11) / 3.0 - 1.5,
                    (i * 13.0 % 100, (i * 7) % 6 + 0.5, ((i * 5) % 20) / 10 - 1.0))
                 for i in range(40)])
    return archive


def test_failures_are_never_added_and_the_better_objective_keeps_the_cell():
    archive = EliteArchive(CONFIG)
    cell = (10.0, 1.0, 0.5)
    assert archive.add([failure(1, "boom"), ev(2, math.nan, cell),
                        ev(3, 1.0, (math.nan, 1.0, 0.5))]) == 0
    assert len(archive) == 0
    archive.add([ev(4, 1.0, cell)])
    archive.add([ev(5, 0.5, cell), ev(6, 1.0, cell)])  # worse; tie keeps the incumbent
    assert [e.genome_id for e in archive.elites()] == [4]
    archive.add([ev(7, 2.0, (12.0, 1.5, 0.9))])  # same cell, better
    (elite,) = archive.elites()
    assert (elite.genome_id, elite.objective, elite.measures) == (7, 2.0, (12.0, 1.5, 0.9))


def test_measures_are_clipped_into_the_grid():
    archive = EliteArchive(CONFIG)
    archive.add([ev(1, 0.0, (1e6, -3.0, 2.0)), ev(2, 0.0, (-5.0, 99.0, -7.0))])
    measures = sorted(e.measures for e in archive.elites())
    assert measures == [(0.0, 6.0, -1.0), (100.0, 0.0, 1.0)]
    assert archive.clip((50.0, 7.0, -2.0)) == (50.0, 6.0, -1.0)


def test_elites_come_in_cell_order_with_their_ids():
    archive = filled()
    elites = archive.elites()
    assert [e.index for e in elites] == sorted(e.index for e in elites)
    assert len({e.index for e in elites}) == len(elites) == len(archive)
    assert archive.genome_ids() == {e.genome_id for e in elites}


def test_stats_use_the_documented_offset():
    archive = filled()
    elites = archive.elites()
    stats = archive.stats
    assert stats.elites == len(elites) and stats.cells == 4 * 3 * 2
    assert stats.coverage == pytest.approx(len(elites) / 24)
    assert stats.qd_score == pytest.approx(sum(e.objective + 20.0 for e in elites))
    assert stats.best == max(e.objective for e in elites)
    assert stats.qd_score > 0 > min(e.objective for e in elites)  # negatives don't break it
    empty = EliteArchive(CONFIG).stats
    assert empty.elites == 0 and empty.qd_score == 0.0 and math.isnan(empty.best)
    assert set(QD_SCORE_OFFSETS) == {"oos_sharpe", "dsr"}


def test_state_round_trip_rebuilds_the_same_grid():
    archive = filled()
    state = json.loads(json.dumps(archive.to_state()))
    rebuilt = EliteArchive.from_state(CONFIG, state)
    assert rebuilt.elites() == archive.elites()
    assert rebuilt.to_state() == archive.to_state()
    mine = archive.data().sort_values("index").reset_index(drop=True)
    theirs = rebuilt.data().sort_values("index").reset_index(drop=True)
    assert mine.equals(theirs)
    assert rebuilt.stats == archive.stats


def test_state_from_another_grid_is_refused():
    state = filled().to_state()
    coarse = ArchiveConfig(turnover=DescriptorRange(bins=2, low=0.0, high=100.0),
                           holding=DescriptorRange(bins=2, low=0.0, high=6.0),
                           correlation=DescriptorRange(bins=2, low=-1.0, high=1.0))
    with pytest.raises(EvolutionError, match="share"):
        EliteArchive.from_state(coarse, state)


def test_parent_sampling_is_seeded_and_independent_of_pyribs_rng():
    archive = filled()
    first = archive.sample(seed=5, count=20)
    assert first == archive.sample(seed=5, count=20)
    assert first != archive.sample(seed=6, count=20)
    assert all(len(pair) == 2 for pair in first)
    rebuilt = EliteArchive.from_state(CONFIG, archive.to_state())
    assert rebuilt.sample(seed=5, count=20) == first
    with pytest.raises(EvolutionError, match="empty"):
        EliteArchive(CONFIG).sample(seed=1, count=1)


def test_ids_must_fit_a_float64_exactly():
    archive = EliteArchive(CONFIG)
    big = 2**53 - 1
    archive.add([ev(big, 1.0, (1.0, 1.0, 0.0))])
    assert archive.elites()[0].genome_id == big
    with pytest.raises(EvolutionError, match="2\\*\\*53"):
        archive.add([ev(2**53, 1.0, (1.0, 1.0, 0.0))])
