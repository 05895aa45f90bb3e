"""Registry lookup and ``k=v`` parameter parsing."""

from __future__ import annotations

import pydantic
import pytest

from core.errors import BacktestError
from core.strategies import (
    STRATEGIES,
    MeanReversionParams,
    MomentumParams,
    PairsParams,
    get_strategy,
    parse_params,
)
from tests.core.strategies.helpers import make_candles, random_walk


def test_registry_contents() -> None:
    assert set(STRATEGIES) == {"momentum", "mean_reversion", "pairs"}
    assert get_strategy("pairs").symbols == 2
    assert get_strategy("pairs").direction_required == "long_short"
    assert get_strategy("momentum").params_model is MomentumParams
    for name, spec in STRATEGIES.items():
        assert spec.name == name
        assert spec.params_model.model_config["extra"] == "forbid"
        assert spec.params_model.model_config["frozen"] is True
        for field in spec.params_model.model_fields.values():
            assert field.description


def test_unknown_strategy_lists_known_names() -> None:
    with pytest.raises(BacktestError, match="mean_reversion, momentum, pairs"):
        get_strategy("macd")


def test_parse_params_coerces_types() -> None:
    spec = get_strategy("momentum")
    params = parse_params(spec, " fast=20 , slow=50,allow_short=true,ma=ema,")
    assert params == MomentumParams(fast=20, slow=50, allow_short=True, ma="ema")
    assert parse_params(spec, "") == MomentumParams()
    mr = parse_params(get_strategy("mean_reversion"), "lookback=10,entry_z=1.5,exit_z=0")
    assert mr == MeanReversionParams(lookback=10, entry_z=1.5, exit_z=0.0)
    assert parse_params(get_strategy("pairs"), {"lookback": 30}) == PairsParams(lookback=30)


def test_params_are_frozen() -> None:
    params = parse_params(get_strategy("momentum"), "fast=3,slow=9")
    with pytest.raises(pydantic.ValidationError):
        params.fast = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("momentum", "fast=50,slow=20", "slow must be greater than fast"),
        ("momentum", "fast=20,slow=20", "slow must be greater than fast"),
        ("momentum", "fst=3", "unknown parameter.*fst.*known: fast, slow"),
        ("momentum", "fast=abc", "fast='abc'.*valid integer"),
        ("momentum", "fast=2.5", "fast='2.5'"),
        ("momentum", "fast=0", "fast='0'.*greater than or equal to 1"),
        ("momentum", "ma=wma", "ma='wma'"),
        ("momentum", "allow_short=maybe", "allow_short"),
        ("momentum", "fast", "expected key=value"),
        ("momentum", "=3", "expected key=value"),
        ("momentum", "fast=3,fast=4", "given twice"),
        ("mean_reversion", "entry_z=1,exit_z=1", "exit_z must be less than entry_z"),
        ("mean_reversion", "entry_z=-1", "entry_z"),
        ("mean_reversion", "lookback=1", "lookback"),
        ("pairs", "entry_z=nan", "finite"),
        ("pairs", "allow_short=true", "unknown parameter"),
    ],
)
def test_parse_params_errors(name: str, text: str, message: str) -> None:
    with pytest.raises(BacktestError, match=message):
        parse_params(get_strategy(name), text)


def test_direction_for() -> None:
    momentum = get_strategy("momentum")
    assert momentum.direction_for(MomentumParams()) == "long_only"
    assert momentum.direction_for(MomentumParams(allow_short=True)) == "long_short"
    assert get_strategy("pairs").direction_for(PairsParams()) == "long_short"


def test_compute_checks_series_count_and_params_type() -> None:
    candles = make_candles(random_walk(100, seed=1))
    spec = get_strategy("momentum")
    with pytest.raises(BacktestError, match="one symbol"):
        spec.compute([candles, candles], MomentumParams())
    with pytest.raises(BacktestError, match="MomentumParams"):
        spec.compute([candles], MeanReversionParams())
    (target,) = spec.compute([candles], parse_params(spec, "fast=3,slow=10"))
    assert len(target) == 100
