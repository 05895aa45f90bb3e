"""[governance.regime_risk]: regime -> risk profile, checked against the session's limits."""

from __future__ import annotations

import os

import pytest

from actors.main import main
from configs import AppConfig, RiskLimits
from configs.regime_risk import RegimeRiskConfig
from core.governance.regime import REGIMES

STORM = """
[risk.profiles.storm]
per_trade_risk_pct = 0.25
max_position_pct = 4.0
max_gross_exposure_pct = 20.0
daily_drawdown_cut_pct = 3.0
cooldown_minutes = 120
"""


def regime_risk(templates: str, enabled: bool = True) -> str:
    return (f"[governance.regime_risk]\nenabled = {str(enabled).lower()}\n"
            f"templates = {{ {templates} }}\n")


def test_off_by_default_and_every_regime_can_be_named():
    config = AppConfig()
    assert config.governance.regime_risk == RegimeRiskConfig()
    assert not config.governance.regime_risk.enabled
    assert config.governance.regime_risk.resolve(config.risk) == ()
    same = RegimeRiskConfig(enabled=True, templates=dict.fromkeys(REGIMES, "conservative"))
    assert same.problems(config.risk) == []  # the session's own profile: unchanged is allowed
    assert [(r, p, lim) for r, p, lim in same.resolve(config.risk)] == [
        (r, "conservative", config.risk.effective()) for r in sorted(REGIMES)]


def test_a_tighter_template_resolves_over_the_backstop(write_toml, load):
    text = STORM + regime_risk('range_volatile = "storm", trend_down = "conservative"')
    config = load(write_toml(text)).config
    resolved = config.governance.regime_risk.resolve(config.risk)
    assert [(regime, profile) for regime, profile, _ in resolved] == [
        ("range_volatile", "storm"), ("trend_down", "conservative")]
    storm = resolved[0][2]
    assert isinstance(storm, RiskLimits)
    assert storm == config.risk.profiles["storm"].merged_with(config.risk.profiles["wide"])
    assert (storm.max_position_pct, storm.max_open_positions) == (4.0, 5)  # 5 from "wide"
    assert resolved[1][2] == config.risk.effective()
    disabled = load(write_toml(STORM + regime_risk('range_volatile = "storm"', False))).config
    assert disabled.governance.regime_risk.resolve(disabled.risk) == ()


def test_a_looser_template_is_refused_naming_regime_profile_and_fields(write_toml, load_error):
    text = ("[risk.profiles.bold]\nper_trade_risk_pct = 0.5\nmax_position_pct = 20.0\n"
            "max_gross_exposure_pct = 50.0\ndaily_drawdown_cut_pct = 5.0\n"
            "cooldown_minutes = 30\n" + regime_risk('trend_up = "bold"'))
    message = load_error(write_toml(text))
    assert "governance.regime_risk" in message
    assert "regime 'trend_up', profile 'bold'" in message
    assert "max_position_pct (20 > the session's 10)" in message
    assert "cooldown_minutes (30 < the session's 60)" in message
    assert "per_trade_risk_pct" not in message  # equal is allowed
    assert "[risk.profiles.bold]" in message


def test_a_field_the_template_leaves_unset_is_looser(write_toml, load_error):
    message = load_error(write_toml(regime_risk('range_volatile = "wide"')))
    assert "regime 'range_volatile', profile 'wide'" in message
    assert "per_trade_risk_pct (unset, the session's is 0.5)" in message
    assert "max_position_pct (25 > the session's 10)" in message


@pytest.mark.parametrize("regime", ["range_quiet", "unknown"])
def test_an_unknown_regime_is_refused(write_toml, load_error, regime):
    path = write_toml(regime_risk(f'{regime} = "conservative"'))
    message = load_error(path)
    assert f"{path}: governance.regime_risk.templates: unknown regime(s) '{regime}'" in message
    assert ", ".join(REGIMES) in message


def test_an_unknown_profile_is_refused(write_toml, load_error):
    message = load_error(write_toml(regime_risk('trend_down = "storm"', enabled=False)))
    assert "regime 'trend_down' names profile 'storm'" in message
    assert "(defined: conservative, wide)" in message


def test_the_cli_exits_2_on_a_looser_template(tmp_path, capsys, monkeypatch):
    for name in [n for n in os.environ if n.upper().startswith("EVOTRADER_")]:
        monkeypatch.delenv(name)
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(STORM + regime_risk('range_volatile = "storm"'), encoding="utf-8")
    bad.write_text(regime_risk('range_calm = "wide"'), encoding="utf-8")
    assert main(["--check-config", "--config", str(good)]) == 0
    capsys.readouterr()
    assert main(["--check-config", "--config", str(bad)]) == 2
    assert "regime 'range_calm', profile 'wide'" in capsys.readouterr().err
