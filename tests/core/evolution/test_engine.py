"""EvolutionEngine: ask/tell determinism, ordering, deduplication, checkpoint and resume."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pytest

from configs.evolution import EvolutionConfig, GPConfig
from core.dsl import random_tree
from core.dsl.hashing import structural_hash
from core.dsl.nodes import Call, Node
from core.evolution.engine import EvolutionEngine
from core.evolution.genome import Candidate, Evaluation, EvolutionError, failure
from core.evolution.state import EngineState

TERMINALS = ("close", "volume", "returns")
CONFIG = EvolutionConfig(population=16, initial_random=24)


def fake_score(candidate: Candidate) -> Evaluation:
    """A deterministic stand-in objective: a pure function of the expression text."""
    d = hashlib.sha256(candidate.text.encode()).digest()
    if d[0] < 26:
        return failure(candidate.genome_id, "fake failure")
    return Evaluation(genome_id=candidate.genome_id, ok=True,
                      objective=int.from_bytes(d[1:3], "big") / 65535 * 4 - 2,
                      measures=(d[3] / 255 * 200, d[4] / 255 * 6, d[5] / 255 * 2 - 1))


def _random_genome(seed: int, gp: GPConfig, terminals: Sequence[str]) -> Node:
    return random_tree(np.random.default_rng(seed), min_depth=gp.init_min_depth,
                       max_depth=gp.init_max_depth, terminals=terminals, windows=gp.windows,
                       max_size=gp.max_size)


def _vary(parents: Sequence[Node], seed: int, gp: GPConfig, terminals: Sequence[str]):
    rng = np.random.default_rng(seed)
    if rng.random() < 0.3:  # a clone: produces duplicates on purpose
        return SimpleNamespace(child=parents[0], operator="clone", parent_indices=(0,))
    fresh = _random_genome(seed, gp.model_copy(update={"init_max_depth": 3}), terminals)
    return SimpleNamespace(child=Call("add", (parents[1], fresh)) if rng.random() < 0.2
                           else fresh, operator="stand-in", parent_indices=(0, 1))


STAND_IN = SimpleNamespace(random_genome=_random_genome, vary=_vary)


def run(engine: EvolutionEngine, generations: int, score=fake_score) -> list[list[Candidate]]:
    asks = []
    for _ in range(generations):
        batch = engine.ask()
        asks.append(batch)
        engine.tell([score(c) for c in batch])
    return asks


def summary(asks: list[list[Candidate]]) -> list[list[tuple]]:
    return [[(c.genome_id, c.text, c.hash, c.parents, c.generation, c.operator) for c in b]
            for b in asks]


@pytest.mark.parametrize("variation", [STAND_IN, None], ids=["stand-in", "gp"])
def test_same_seed_gives_the_same_run(variation):
    first, second = (EvolutionEngine(CONFIG, seed=7, terminals=TERMINALS, variation=variation)
                     for _ in range(2))
    asks = run(first, 5)
    assert summary(asks) == summary(run(second, 5))
    assert first.elites() == second.elites()
    assert first.state().to_dict() == second.state().to_dict()
    other = EvolutionEngine(CONFIG, seed=8, terminals=TERMINALS, variation=variation)
    assert summary(run(other, 5)) != summary(asks)
    assert len(first.archive) > 0 and first.generation == 5


def test_random_genomes_first_then_children_of_elites():
    engine = EvolutionEngine(CONFIG, seed=1, terminals=TERMINALS, variation=STAND_IN)
    batch = engine.ask()
    assert engine.ask() == batch  # asking again returns the pending batch
    assert 0 < len(batch) <= CONFIG.initial_random
    assert {c.operator for c in batch} == {"random"} and all(c.parents == () for c in batch)
    assert [c.genome_id for c in batch] == list(range(len(batch)))
    engine.tell([fake_score(c) for c in batch])
    elites = {e.genome_id for e in engine.archive.elites()}
    children = engine.ask()
    assert children[0].genome_id == len(batch) and children[0].generation == 1
    assert all(set(c.parents) <= elites and c.parents for c in children)
    assert {e.text for e in engine.elites()} <= {c.text for c in batch}


def test_random_genomes_again_while_the_archive_is_empty():
    engine = EvolutionEngine(CONFIG, seed=1, terminals=TERMINALS, variation=STAND_IN)
    first = engine.ask()
    report = engine.tell([failure(c.genome_id, "nope") for c in first])
    assert report.failures == len(first) and len(engine.archive) == 0
    second = engine.ask()
    assert {c.operator for c in second} == {"random"}
    assert not {c.hash for c in first} & {c.hash for c in second}


def test_tell_rejects_evaluations_out_of_ask_order():
    engine = EvolutionEngine(CONFIG, seed=2, terminals=TERMINALS, variation=STAND_IN)
    with pytest.raises(EvolutionError, match="without a pending ask"):
        engine.tell([])
    batch = engine.ask()
    evaluations = [fake_score(c) for c in batch]
    for wrong in (evaluations[::-1], evaluations[:-1], [*evaluations, evaluations[0]]):
        with pytest.raises(EvolutionError, match="ask order"):
            engine.tell(wrong)
    assert engine.generation == 0 and engine.trials == 0
    engine.tell(evaluations)
    assert engine.generation == 1 and engine.trials == len(batch)


def test_duplicates_are_not_asked_again_and_trials_count_distinct_hashes():
    engine = EvolutionEngine(CONFIG, seed=3, terminals=TERMINALS, variation=STAND_IN)
    told: list[str] = []
    for _ in range(6):
        batch = engine.ask()
        hashes = [c.hash for c in batch]
        assert len(set(hashes)) == len(hashes) and not set(hashes) & set(told)
        assert engine.scoring_trials == len(told) + len(batch)
        assert all(c.hash == structural_hash(c.node) for c in batch)
        report = engine.tell([fake_score(c) for c in batch])
        told += hashes
        assert report.trials == engine.trials == len(set(told))
    assert engine.counters["duplicates"] > 0  # the stand-in clones on purpose
    assert engine.counters["asked"] == len(told)
    assert engine.counters["asked"] + engine.counters["duplicates"] == \
        CONFIG.initial_random + 5 * CONFIG.population
    record = engine.lookup(told[0])
    assert record is not None and record.genome_id == 0 and engine.lookup("nope") is None


@pytest.mark.parametrize("variation", [STAND_IN, None], ids=["stand-in", "gp"])
def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(variation):
    straight = EvolutionEngine(CONFIG, seed=11, terminals=TERMINALS, variation=variation)
    asks = run(straight, 6)

    first_half = EvolutionEngine(CONFIG, seed=11, terminals=TERMINALS, variation=variation)
    run(first_half, 3)
    first_half.ask()  # killed after an ask: the pending batch is not part of the state
    checkpoint = json.loads(json.dumps(first_half.state().to_dict()))
    resumed = EvolutionEngine.from_state(CONFIG, EngineState.from_dict(checkpoint),
                                         variation=variation)
    assert resumed.generation == 3
    assert summary(run(resumed, 3)) == summary(asks[3:])
    assert resumed.elites() == straight.elites()
    mine = resumed.archive.data().sort_values("index").reset_index(drop=True)
    assert mine.equals(straight.archive.data().sort_values("index").reset_index(drop=True))
    assert resumed.state().to_dict() == straight.state().to_dict()
    assert summary([resumed.ask()]) == summary([straight.ask()])


def test_resume_refuses_another_config():
    engine = EvolutionEngine(CONFIG, seed=1, terminals=TERMINALS, variation=STAND_IN)
    run(engine, 1)
    with pytest.raises(EvolutionError, match="config differs"):
        EvolutionEngine.from_state(CONFIG.model_copy(update={"population": 17}), engine.state(),
                                   variation=STAND_IN)


def test_report_and_elites_carry_the_expressions():
    engine = EvolutionEngine(CONFIG, seed=4, terminals=TERMINALS, variation=STAND_IN)
    batch = engine.ask()
    report = engine.tell([fake_score(c) for c in batch])
    assert report.generation == 0 and report.asked == len(batch)
    assert report.archive.elites == len(engine.archive) > 0
    by_id = {c.genome_id: c for c in batch}
    for elite in engine.elites():
        assert elite.text == by_id[elite.genome_id].text
        assert elite.objective == fake_score(by_id[elite.genome_id]).objective
    assert set(engine.state().genomes) == engine.archive.genome_ids()


def test_real_objective_loop_is_independent_of_the_evaluation_order():
    from configs.backtest import BacktestConfig
    from core.backtest import MarketArrays
    from core.data import generate_synthetic
    from core.dsl.data import AlphaData
    from core.evolution.objective import score_genome

    market = MarketArrays.from_candles([generate_synthetic(bars=1_500, seed=5)])
    data = AlphaData.from_market(market)
    config = EvolutionConfig(population=8, initial_random=12)

    def farm(engine: EvolutionEngine, order_seed: int | None) -> None:
        batch = engine.ask()
        order = list(range(len(batch)))
        if order_seed is not None:  # workers finish in any order; the farm sorts by ask order
            np.random.default_rng(order_seed).shuffle(order)
        done = {batch[i].genome_id: score_genome(
            batch[i].node, data, market, config.objective, BacktestConfig(),
            n_trials=engine.scoring_trials, genome_id=batch[i].genome_id) for i in order}
        engine.tell([done[c.genome_id] for c in batch])

    engines = [EvolutionEngine(config, seed=21, terminals=TERMINALS) for _ in range(2)]
    for generation in range(3):
        farm(engines[0], None)
        farm(engines[1], generation)
    assert engines[0].state().to_dict() == engines[1].state().to_dict()
    assert engines[0].counters["evaluated"] > engines[0].counters["failures"]
