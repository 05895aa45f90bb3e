"""The AppConfig model: frozen, strict, bounded, documented, with cross-section checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from configs import AppConfig, DataConfig, StrategyConfig


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    seen.add(model)
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            is_model = isinstance(candidate, type) and issubclass(candidate, BaseModel)
            if is_model and candidate not in seen:
                _models(candidate, seen)


def test_every_field_is_described_and_models_are_strict():
    seen: set[type[BaseModel]] = set()
    _models(AppConfig, seen)
    assert len(seen) >= 12
    for model in seen:
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_defaults_validate_and_are_frozen():
    config = AppConfig()
    assert config.app.mode == "sim"
    assert config.app.seed == 7
    assert config.ray.address is None
    assert config.exchange.id == "binance"
    with pytest.raises(ValidationError):
        config.app.seed = 8  # type: ignore[misc]


def test_symbols_and_venue_are_normalised():
    data = DataConfig(symbols=[" btc/usdt ", "ETH/USDT:USDT"], venue="binance")
    assert data.symbols == ["BTC/USDT", "ETH/USDT:USDT"]
    assert data.venue == "BINANCE"


@pytest.mark.parametrize("symbols", [["BTCUSDT"], ["BTC/USDT", "BTC/USDT"], []])
def test_bad_symbols_are_rejected(symbols):
    with pytest.raises(ValidationError):
        DataConfig(symbols=symbols)


def test_relative_data_dir_resolves_against_the_working_directory(tmp_path):
    assert DataConfig(dir="data").resolve_dir(tmp_path) == tmp_path / "data"
    assert DataConfig(dir="/abs/data").resolve_dir(tmp_path) == Path("/abs/data")
    assert DataConfig().resolve_dir() == Path.cwd() / "../shared/data"


def test_strategy_params_must_be_scalars():
    assert StrategyConfig(params={"a": 1, "b": 1.5, "c": True, "d": "x"}).params["c"] is True
    with pytest.raises(ValidationError, match="parameter 'a'"):
        StrategyConfig(params={"a": [1]})


def test_live_mode_forbids_synthetic_data():
    with pytest.raises(ValidationError, match="synthetic_fallback"):
        AppConfig.model_validate({"app": {"mode": "live"}})
    live = AppConfig.model_validate(
        {"app": {"mode": "live"}, "data": {"synthetic_fallback": False}}
    )
    assert live.app.mode == "live"


def test_non_sim_venue_must_match_the_exchange():
    with pytest.raises(ValidationError, match="data.venue must be 'KRAKEN'"):
        AppConfig.model_validate({"app": {"mode": "paper"}, "exchange": {"id": "kraken"}})


def test_live_mode_needs_a_profile_other_than_the_backstop():
    with pytest.raises(ValidationError, match="risk.profile to differ"):
        AppConfig.model_validate(
            {
                "app": {"mode": "live"},
                "data": {"synthetic_fallback": False},
                "risk": {"profile": "wide"},
            }
        )
