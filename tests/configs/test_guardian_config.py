"""GuardianConfig: documented bounded defaults and actionable messages for malformed input."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import ValidationError

from configs.guardian import GuardianConfig


def problems(**values) -> str:
    with pytest.raises(ValidationError) as info:
        GuardianConfig(**values)
    return str(info.value)


def test_defaults_are_valid_documented_and_frozen():
    config = GuardianConfig()
    assert config.drawdown_stages == ((10.0, "REDUCING"), (20.0, "HALTED"))
    assert (config.reducing_pct(), config.halted_pct()) == (10.0, 20.0)
    assert config.kill_switch_file == "runs/KILL"
    for name, field in GuardianConfig.model_fields.items():
        assert field.description, name
    with pytest.raises(ValidationError):
        config.price_band_pct = 50.0  # type: ignore[misc]


def test_stages_from_toml_lists_and_lower_case_states():
    text = 'drawdown_stages = [[5, "reducing"], [12.5, "HALTED"]]\nkill_switch_file = "/tmp/k"'
    config = GuardianConfig.model_validate(tomllib.loads(text))
    assert config.drawdown_stages == ((5.0, "REDUCING"), (12.5, "HALTED"))
    assert GuardianConfig(drawdown_stages=[]).reducing_pct() is None
    assert GuardianConfig(kill_switch_file=None).kill_switch_file is None


@pytest.mark.parametrize(("values", "message"), [
    ({"drawdown_stages": [[20, "REDUCING"], [10, "HALTED"]]},
     "drawdown_stages[1]: drawdowns must increase, got 10.0 after 20.0"),
    ({"drawdown_stages": [[10, "HALTED"], [20, "REDUCING"]]},
     "drawdown_stages[0]: a HALTED stage must be the last one"),
    ({"drawdown_stages": [[0, "REDUCING"]]}, "drawdown must be in (0, 100] %, got 0.0"),
    ({"drawdown_stages": [[150, "HALTED"]]}, "drawdown must be in (0, 100] %, got 150.0"),
    ({"drawdown_stages": [[10, "PAUSED"]]}, "Input should be 'REDUCING' or 'HALTED'"),
    ({"drawdown_stages": [10]}, "drawdown_stages.0"),
    ({"price_band_pct": 0}, "price_band_pct\n  Input should be greater than 0"),
    ({"notional_cap": -5}, "notional_cap\n  Input should be greater than 0"),
    ({"min_notional": -1}, "min_notional\n  Input should be greater than or equal to 0"),
    ({"max_consecutive_rejects": 0}, "max_consecutive_rejects\n  Input should be greater"),
    ({"stale_data_bars": 0}, "stale_data_bars\n  Input should be greater than or equal to 1"),
    ({"kill_switch_file": ""}, "kill_switch_file\n  String should have at least 1 character"),
    ({"price_band": 5}, "price_band\n  Extra inputs are not permitted"),
    ({"max_consecutive_rejects": "many"}, "Input should be a valid integer"),
])
def test_malformed_values_name_the_key_and_the_fix(values, message):
    assert message in problems(**values)
