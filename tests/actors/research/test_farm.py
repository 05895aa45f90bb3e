"""EvaluationFarm on the session's real local Ray: order, determinism, failures, retries."""

from __future__ import annotations

import pytest
import ray

from actors.research.farm import EvaluationFarm, Spread, score_one
from core.errors import EvotraderError
from tests.actors.research import DemoScorer, as_comparable, make_candidates, make_data

pytestmark = pytest.mark.usefixtures("ray_session")


def expected(candidates, scorer, data, **kwargs):
    """What the farm must return: the scorer applied in-process, genome by genome."""
    return [score_one(scorer, c.genome_id, c.node, data, kwargs, 60.0) for c in candidates]


def test_results_come_back_in_candidate_order_whatever_the_completion_order():
    candidates = make_candidates(24)
    data, scorer = make_data(), DemoScorer(jitter_s=0.05)
    farm = EvaluationFarm(data, scorer, workers=2, batch_size=1, timeout_s=30)
    results = farm.evaluate(candidates, scale=2.0)
    assert [r.genome_id for r in results] == [c.genome_id for c in candidates]
    assert as_comparable(results) == as_comparable(expected(candidates, scorer, data, scale=2.0))
    assert all(r.ok for r in results)
    assert farm.stats.tasks == 24


@pytest.mark.parametrize("batch_size", [1, 4])
def test_results_are_identical_for_1_2_and_8_workers(batch_size):
    candidates = make_candidates(30, seed=11)
    data, scorer = make_data(), DemoScorer()
    runs = {}
    for workers in (1, 2, 8):
        farm = EvaluationFarm(data, scorer, workers=workers, batch_size=batch_size, timeout_s=30)
        runs[workers] = as_comparable(farm.evaluate(candidates))
    assert runs[1] == runs[2] == runs[8] == as_comparable(expected(candidates, scorer, data))


def test_a_raising_genome_is_a_recorded_failure_and_its_batch_goes_on():
    candidates = make_candidates(6)
    bad = candidates[2]
    farm = EvaluationFarm(make_data(), DemoScorer(fail_on=(bad.text,)), workers=2,
                          batch_size=3, timeout_s=30)
    results = farm.evaluate(candidates)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert results[2].genome_id == bad.genome_id
    assert results[2].error == f"ValueError: bad genome {bad.text}"
    assert farm.stats.failed_genomes == 1 and farm.stats.lost_tasks == 0


def test_a_sleeping_genome_times_out_alone():
    candidates = make_candidates(4)
    slow = candidates[1]
    farm = EvaluationFarm(make_data(), DemoScorer(sleep_on=(slow.text,)), workers=2,
                          batch_size=4, timeout_s=0.5, grace_s=20)
    results = farm.evaluate(candidates)
    assert [r.ok for r in results] == [True, False, True, True]
    assert results[1].error == "timeout after 0.5s"
    assert results[1].genome_id == slow.genome_id
    assert farm.stats.backstop_kills == 0  # the in-task alarm did it, no worker was killed


def test_a_genome_that_ignores_the_alarm_is_killed_by_the_backstop():
    candidates = make_candidates(3)
    stuck = candidates[0]
    farm = EvaluationFarm(make_data(), DemoScorer(stubborn_on=(stuck.text,)), workers=2,
                          batch_size=1, timeout_s=0.5, grace_s=2.0)
    results = farm.evaluate(candidates)
    assert [r.ok for r in results] == [False, True, True]
    assert results[0].error == "timeout after 0.5s"
    assert farm.stats.backstop_kills == 1


def test_a_worker_killed_mid_batch_is_retried_and_results_are_complete(tmp_path):
    candidates = make_candidates(12)
    data = make_data()
    victim = candidates[5]
    scorer = DemoScorer(crash_on=(victim.text,), crash_once_dir=str(tmp_path))
    farm = EvaluationFarm(data, scorer, workers=2, batch_size=4, timeout_s=30, task_retries=2)
    results = farm.evaluate(candidates)
    assert (tmp_path / f"crashed-{victim.hash}").exists()  # the worker really died once
    assert farm.stats.lost_tasks == 0  # Ray's task retry absorbed it
    assert all(r.ok for r in results)
    assert as_comparable(results) == as_comparable(expected(candidates, DemoScorer(), data))


def test_a_genome_that_always_kills_its_worker_fails_alone_after_retries():
    candidates = make_candidates(3)
    killer = candidates[1]
    farm = EvaluationFarm(make_data(), DemoScorer(crash_on=(killer.text,)), workers=2,
                          batch_size=3, timeout_s=30, task_retries=1)
    results = farm.evaluate(candidates)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].genome_id == killer.genome_id
    assert results[1].error.startswith("WorkerCrashedError")
    assert farm.stats.lost_tasks == 2  # the batch, then the genome alone


def test_the_data_is_put_into_the_object_store_once(monkeypatch):
    puts = []
    real_put = ray.put

    def counting_put(value, **kwargs):
        puts.append(type(value).__name__)
        return real_put(value, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    candidates = make_candidates(10)
    farm = EvaluationFarm(make_data(), DemoScorer(), workers=2, batch_size=2, timeout_s=30)
    ref = farm.data_ref
    first = farm.evaluate(candidates)
    second = farm.evaluate(candidates)
    assert puts == ["ndarray"]
    assert farm.data_ref == ref and farm.stats.tasks == 10
    assert as_comparable(first) == as_comparable(second)


def test_an_empty_request_gives_an_empty_answer():
    assert EvaluationFarm(make_data(), DemoScorer(), workers=1, batch_size=1).evaluate([]) == []


def test_spread_calls_a_scorer_with_several_data_arguments():
    candidates = make_candidates(3)
    data = make_data()

    farm = EvaluationFarm((data,), Spread(DemoScorer()), workers=1, batch_size=2, timeout_s=30)
    assert as_comparable(farm.evaluate(candidates)) == as_comparable(
        expected(candidates, DemoScorer(), data))


def returns_text(node, data, **kwargs):
    return "not an evaluation"


def test_a_scorer_returning_the_wrong_type_is_a_recorded_failure():
    [candidate] = make_candidates(1)
    farm = EvaluationFarm(make_data(), returns_text, workers=1, batch_size=1, timeout_s=30)
    [result] = farm.evaluate([candidate])
    assert not result.ok
    assert result.error == "TypeError: score_fn returned str, not Evaluation"


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"batch_size": 0}, {"task_retries": -1},
                                    {"timeout_s": 0.0}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(EvotraderError):
        EvaluationFarm(make_data(), DemoScorer(), **kwargs)


def test_the_engine_reaches_the_same_state_through_the_farm_as_in_process():
    from configs.backtest import BacktestConfig
    from configs.evolution import EvolutionConfig
    from core.backtest import MarketArrays
    from core.data import generate_synthetic
    from core.dsl.data import AlphaData
    from core.evolution.engine import EvolutionEngine
    from core.evolution.objective import score_genome

    market = MarketArrays.from_candles([generate_synthetic(bars=1_500, seed=5)])
    data = AlphaData.from_market(market)
    config = EvolutionConfig(population=8, initial_random=12)
    shared = (data, market, config.objective, BacktestConfig())
    farm = EvaluationFarm(shared, Spread(score_genome), workers=2, batch_size=3, timeout_s=60)
    engines = [EvolutionEngine(config, seed=21, terminals=("close", "volume", "returns"))
               for _ in range(2)]
    for _ in range(3):
        on_ray, local = engines[0].ask(), engines[1].ask()
        engines[0].tell(farm.evaluate(on_ray, n_trials=engines[0].scoring_trials))
        engines[1].tell([score_genome(c.node, *shared, n_trials=engines[1].scoring_trials,
                                      genome_id=c.genome_id) for c in local])
    assert engines[0].state().to_dict() == engines[1].state().to_dict()
    assert farm.stats.lost_tasks == 0 and farm.stats.backstop_kills == 0
