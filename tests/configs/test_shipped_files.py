"""Every shipped TOML file loads and validates; the risk profiles match the issue exactly."""

from __future__ import annotations

import tomllib

import pytest

from configs import CONSERVATIVE, DEFAULT_FILE, PACKAGE_DIR, RISK_FILE, WIDE, RiskLimits

SHIPPED = sorted(PACKAGE_DIR.glob("*.toml"))


def test_the_four_profiles_are_shipped():
    names = {path.name for path in SHIPPED}
    assert {"default.toml", "paper.toml", "live.toml", "risk.toml"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_loads(path, load):
    loaded = load(path)
    assert loaded.sources == (str(RISK_FILE), str(path))
    assert len(loaded.config_id) == 16


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_is_commented(path):
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#")
    assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 5


def test_default_is_offline_sim(load):
    config = load().config
    assert config.app.mode == "sim"
    assert config.data.dir == "../shared/data"
    assert config.data.symbols == ["BTC/USDT"]
    assert config.data.timeframe == "1h"
    assert config.strategy.name == "momentum"
    assert config.strategy.params == {"fast": 20, "slow": 50}
    assert load(DEFAULT_FILE).config_id == load().config_id


def test_paper_and_live_modes(load):
    assert load(PACKAGE_DIR / "paper.toml").config.app.mode == "paper"
    live = load(PACKAGE_DIR / "live.toml").config
    assert live.app.mode == "live"
    assert live.risk.profile == "conservative"
    assert live.data.synthetic_fallback is False


def test_risk_toml_holds_exactly_the_issue_numbers():
    risk = tomllib.loads(RISK_FILE.read_text(encoding="utf-8"))["risk"]
    assert risk["profile"] == "conservative"
    assert risk["backstop"] == "wide"
    assert risk["profiles"]["conservative"] == {
        "per_trade_risk_pct": 0.5,
        "max_position_pct": 10.0,
        "max_gross_exposure_pct": 50.0,
        "daily_drawdown_cut_pct": 5.0,
        "cooldown_minutes": 60,
    }
    assert risk["profiles"]["wide"] == {
        "max_position_pct": 25.0,
        "max_open_positions": 5,
        "max_trade_pct": 10.0,
        "daily_loss_halt_pct": 10.0,
        "max_drawdown_halt_pct": 40.0,
    }


def test_default_profile_is_conservative_with_wide_backstop(load):
    risk = load().config.risk
    assert risk.profile == "conservative"
    assert risk.backstop == "wide"
    assert risk.profiles["conservative"] == CONSERVATIVE
    assert risk.profiles["wide"] == WIDE


def test_effective_limits_fill_from_wide(load):
    effective = load().config.risk.effective()
    assert effective == RiskLimits(
        per_trade_risk_pct=0.5,
        max_position_pct=10.0,
        max_gross_exposure_pct=50.0,
        daily_drawdown_cut_pct=5.0,
        cooldown_minutes=60,
        max_open_positions=5,
        max_trade_pct=10.0,
        daily_loss_halt_pct=10.0,
        max_drawdown_halt_pct=40.0,
    )
