"""EVOTRADER_* environment overrides, read through pydantic-settings, and their errors."""

from __future__ import annotations

import pytest


def test_nested_overrides_win_over_files(write_toml, load):
    path = write_toml("[backtest.costs]\ntaker_fee_bps = 4\n[data]\ndir = 'from-file'\n")
    loaded = load(
        path,
        env={
            "EVOTRADER_BACKTEST__COSTS__TAKER_FEE_BPS": "5",
            "EVOTRADER_DATA__DIR": "/x",
            "EVOTRADER_RISK__PROFILES__CONSERVATIVE__MAX_POSITION_PCT": "8",
            "EVOTRADER_APP__SEED": "11",
            "EVOTRADER_DATA__SYNTHETIC_FALLBACK": "false",
        },
    )
    config = loaded.config
    assert config.backtest.costs.taker_fee_bps == 5.0
    assert config.data.dir == "/x"
    assert config.risk.profiles["conservative"].max_position_pct == 8.0
    assert config.risk.profiles["conservative"].per_trade_risk_pct == 0.5
    assert config.app.seed == 11
    assert config.data.synthetic_fallback is False
    assert "EVOTRADER_DATA__DIR" in loaded.env_overrides


def test_lists_and_tables_are_json_and_params_are_typed(load):
    config = load(
        env={
            "EVOTRADER_DATA__SYMBOLS": '["ETH/USDT", "SOL/USDT"]',
            "EVOTRADER_APP": '{"name": "json-run"}',
            "EVOTRADER_STRATEGY__PARAMS__FAST": "10",
            "EVOTRADER_STRATEGY__PARAMS__RATIO": "0.5",
            "EVOTRADER_STRATEGY__PARAMS__FLAG": "true",
            "EVOTRADER_STRATEGY__PARAMS__LABEL": "abc",
            "EVOTRADER_RAY__ADDRESS": "null",
        }
    ).config
    assert config.data.symbols == ["ETH/USDT", "SOL/USDT"]
    assert config.app.name == "json-run"
    assert config.strategy.params == {
        "fast": 10,
        "slow": 50,
        "ratio": 0.5,
        "flag": True,
        "label": "abc",
    }
    assert config.ray.address is None


def test_env_errors_name_the_variable(load_error):
    message = load_error(env={"EVOTRADER_BACKTEST__COSTS__TAKER_FEE_BPS": "ten"})
    assert (
        "environment variable EVOTRADER_BACKTEST__COSTS__TAKER_FEE_BPS: "
        "backtest.costs.taker_fee_bps: expected a number, got 'ten'"
    ) in message
    message = load_error(env={"EVOTRADER_BACKTEST__COSTS__TAKER_FEE_BPS": "5000"})
    assert (
        "EVOTRADER_BACKTEST__COSTS__TAKER_FEE_BPS: backtest.costs.taker_fee_bps: must be <= 1000"
        in message
    )


def test_a_file_error_and_an_env_error_keep_their_origins(write_toml, load_error):
    path = write_toml("[app]\nseed = -3\n")
    message = load_error(path, env={"EVOTRADER_LOGGING__LEVEL": "LOUD"})
    assert f"{path}: app.seed: must be >= 0 (got -3)" in message
    assert "environment variable EVOTRADER_LOGGING__LEVEL: logging.level: must be one of" in message


def test_an_env_override_replaces_the_blamed_origin(write_toml, load_error):
    path = write_toml("[app]\nseed = 5\n")
    message = load_error(path, env={"EVOTRADER_APP__SEED": "-5"})
    assert "environment variable EVOTRADER_APP__SEED: app.seed: must be >= 0 (got '-5')" in message
    assert f"{path}:" not in message


def test_a_list_that_is_not_json_names_the_variable(load_error):
    message = load_error(env={"EVOTRADER_DATA__SYMBOLS": "BTC/USDT"})
    assert (
        "environment variable EVOTRADER_DATA__SYMBOLS: data.symbols: value is not valid JSON"
        in message
    )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("EVOTRADER_BACKTST__X", "with a section of: app, data"),
        ("EVOTRADER_DATA_DIR", "did you mean EVOTRADER_DATA__DIR?"),
        ("EVOTRADER_DATA____DIR", "with a section of"),
    ],
)
def test_unknown_prefixed_variables_are_rejected(load_error, name, hint):
    message = load_error(env={name: "1"})
    assert f"environment variable {name}: unknown variable" in message
    assert hint in message


def test_an_unknown_key_inside_a_section_is_rejected(load_error):
    message = load_error(env={"EVOTRADER_BACKTEST__COSTS__TAKER_FE_BPS": "1"})
    assert (
        "environment variable EVOTRADER_BACKTEST__COSTS__TAKER_FE_BPS: "
        "backtest.costs.taker_fe_bps: unknown key (did you mean 'taker_fee_bps'?)"
    ) in message


def test_reserved_and_unprefixed_variables_are_ignored(load):
    loaded = load(
        env={
            "EVOTRADER_SHARED_DATA": "/somewhere",
            "EVOTRADER_EXCHANGE_API_KEY": "k",
            "EVOTRADER_ANTHROPIC_API_KEY": "a",
            "PATH": "/usr/bin",
            "DATA__DIR": "/nope",
        }
    )
    assert loaded.env_overrides == ()
    assert loaded.config == load().config


def test_the_process_environment_is_used_by_default(monkeypatch):
    from configs import load_config

    monkeypatch.setenv("EVOTRADER_APP__SEED", "99")
    assert load_config().config.app.seed == 99
