"""Problems in TOML files are reported with the file, the dotted key path and the problem."""

from __future__ import annotations

import pytest

from configs import load_config
from core.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[backtest.costs]\ntaker_fe_bps = 5\n", "backtest.costs.taker_fe_bps", "unknown key"),
        ("[app]\nnmae = 'x'\n", "app.nmae", "unknown key (did you mean 'name'?)"),
        ("[bogus]\nx = 1\n", "bogus", "unknown key"),
        (
            "[backtest.costs]\ntaker_fee_bps = 'ten'\n",
            "backtest.costs.taker_fee_bps",
            "expected a number, got 'ten'",
        ),
        ("[app]\nseed = 1.5\n", "app.seed", "expected an integer, got 1.5"),
        ("[data]\nsymbols = 'BTC/USDT'\n", "data.symbols", "expected a list, got 'BTC/USDT'"),
        ("[data]\nsymbols = [1]\n", "data.symbols[0]", "expected a string, got 1"),
        ("app = 5\n", "app", "expected a table, got 5"),
        (
            "[backtest.costs]\ntaker_fee_bps = 5000\n",
            "backtest.costs.taker_fee_bps",
            "must be <= 1000 (got 5000)",
        ),
        ("[app]\nseed = -1\n", "app.seed", "must be >= 0 (got -1)"),
        ("[ray]\nnum_cpus = 0\n", "ray.num_cpus", "must be >= 1 (got 0)"),
        (
            "[app]\nmode = 'turbo'\n",
            "app.mode",
            "must be one of 'sim', 'paper', 'testnet' or 'live' (got 'turbo')",
        ),
        ("[app]\nrun_dir = ''\n", "app.run_dir", "must not be empty"),
        (
            "[risk.profiles.conservative]\nmax_position_pct = 150\n",
            "risk.profiles.conservative.max_position_pct",
            "must be <= 100 (got 150)",
        ),
        ("[data]\nsymbols = ['BTCUSDT']\n", "data.symbols", "malformed symbol 'BTCUSDT'"),
    ],
)
def test_a_bad_value_names_file_key_and_problem(write_toml, load_error, text, key, problem):
    path = write_toml(text)
    message = load_error(path)
    assert f"{path}: {key}: {problem}" in message


def test_all_problems_are_reported_at_once(write_toml, load_error):
    path = write_toml("[app]\nseed = -1\nmode = 'x'\n[logging]\nlevel = 'LOUD'\n")
    message = load_error(path)
    assert "3 problems" in message
    for key in ("app.seed", "app.mode", "logging.level"):
        assert f"{path}: {key}:" in message


def test_a_profile_looser_than_the_backstop_is_rejected(write_toml, load_error):
    path = write_toml("[risk.profiles.conservative]\nmax_position_pct = 30.0\n")
    message = load_error(path)
    assert (
        "profile 'conservative' is looser than the backstop 'wide' on: max_position_pct" in message
    )
    assert str(path) in message


def test_a_new_profile_can_be_selected_and_is_checked(write_toml, load, load_error):
    good = write_toml(
        "[risk]\nprofile = 'tight'\n[risk.profiles.tight]\nmax_position_pct = 5.0\n", "good.toml"
    )
    risk = load(good).config.risk
    assert risk.effective().max_position_pct == 5.0
    assert risk.effective().max_open_positions == 5  # from the wide backstop
    assert set(risk.profiles) == {"conservative", "wide", "tight"}
    bad = write_toml("[risk]\nprofile = 'nope'\n", "bad.toml")
    assert "profile 'nope' is not a defined profile" in load_error(bad)


def test_a_cross_section_problem_names_the_keys_and_their_origins(write_toml, load_error):
    path = write_toml("[app]\nmode = 'live'\n")
    message = load_error(path)
    assert "app.mode 'live' needs data.synthetic_fallback = false" in message
    assert str(path) in message


def test_malformed_toml_names_the_line_and_column(write_toml):
    path = write_toml("[app]\nseed = 7\nmode = \n")
    with pytest.raises(ConfigError, match=r"invalid TOML at line 3, column \d+") as info:
        load_config(path, env={})
    assert str(path) in str(info.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(missing, env={})
    assert str(missing) in str(info.value)


def test_a_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, env={})


def test_a_file_overrides_only_what_it_sets(write_toml, load):
    loaded = load(write_toml("[backtest.costs]\ntaker_fee_bps = 4\n"))
    assert loaded.config.backtest.costs.taker_fee_bps == 4.0
    assert loaded.config.backtest.costs.maker_fee_bps == 10.0  # model default
    assert loaded.config.risk.profile == "conservative"  # from risk.toml
