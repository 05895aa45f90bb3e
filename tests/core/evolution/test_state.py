"""EngineState: canonical plain data, JSON round trip, refusal of foreign checkpoints."""

from __future__ import annotations

import json
import math

import pytest

from configs.evolution import EvolutionConfig
from core.evolution.genome import EvolutionError
from core.evolution.state import STATE_VERSION, EngineState, TrialRecord, config_fingerprint

NAN = math.nan


def sample_state() -> EngineState:
    return EngineState(
        config_hash=config_fingerprint(EvolutionConfig()), seed=42,
        terminals=("close", "volume"), generation=3, next_id=17,
        archive={"qd_offset": -20.0, "genome_ids": [4, 9],
                 "objectives": [0.1 + 0.2, -1.25], "measures": [[1.5, 2.0, -0.3], [3.0, 0.1, 0.7]]},
        genomes={9: "(ts_mean close 20)", 4: "(neg volume)"},
        trials={"bb": TrialRecord(9, True, -1.25, (3.0, 0.1, 0.7)),
                "aa": TrialRecord(4, True, 0.1 + 0.2, (1.5, 2.0, -0.3)),
                "cc": TrialRecord(5, False, NAN, (NAN, NAN, NAN))},
        counters={"asked": 17, "duplicates": 2})


def test_json_round_trip_restores_the_state_exactly():
    state = sample_state()
    plain = state.to_dict()
    text = json.dumps(plain, allow_nan=False)  # strict JSON: NaN became None
    back = EngineState.from_dict(json.loads(text))
    assert back.to_dict() == plain
    assert back.genomes == state.genomes and back.archive == state.archive
    assert back.trials["aa"] == state.trials["aa"]
    failed = back.trials["cc"]
    assert failed.genome_id == 5 and not failed.ok
    assert math.isnan(failed.objective) and all(math.isnan(m) for m in failed.measures)


def test_plain_data_is_canonical():
    plain = sample_state().to_dict()
    assert [row[0] for row in plain["trials"]] == ["aa", "bb", "cc"]
    assert [row[0] for row in plain["genomes"]] == [4, 9]
    assert plain["version"] == STATE_VERSION
    assert json.dumps(plain) == json.dumps(EngineState.from_dict(plain).to_dict())


def test_other_versions_and_malformed_states_are_refused():
    plain = sample_state().to_dict()
    with pytest.raises(EvolutionError, match="version"):
        EngineState.from_dict({**plain, "version": STATE_VERSION + 1})
    broken = {**plain}
    del broken["next_id"]
    with pytest.raises(EvolutionError, match="malformed"):
        EngineState.from_dict(broken)


def test_config_fingerprint_tracks_the_config():
    base = config_fingerprint(EvolutionConfig())
    assert base == config_fingerprint(EvolutionConfig())
    assert base != config_fingerprint(EvolutionConfig(population=65))
    assert len(base) == 16
