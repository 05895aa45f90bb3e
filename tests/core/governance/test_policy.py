"""One identity for a policy (core.governance.policy)."""

from __future__ import annotations

import json

import pytest

from configs.alpha import MappingConfig
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.errors import ConfigError
from core.governance.policy import PolicySpec, PolicyTemplate, policy_spec, provenance_of
from core.governance.runtime import runtime_form
from core.trading.slot import StrategyRunner, alpha_definition, builtin_definition

ALPHA = "(ts_zscore (delta close 12) 48)"
TRADING = BacktestConfig(sizing={"fraction": 0.3}, stops={"stop_loss_pct": 2.0})
RISK = RiskLimits(max_position_pct=40.0)


def alpha_spec(expression: str = ALPHA, **changes) -> PolicySpec:
    settings = {"strategy": alpha_definition(expression, name="a1"), "trading": TRADING,
                "risk": RISK, "symbols": ("BTC/USDT", "ETH/USDT"), "timeframe": "1h",
                "window": (1_500_000_000_000, 1_600_000_000_000)}
    settings.update(changes)
    return policy_spec(**settings)


def test_the_same_policy_written_differently_has_the_same_bytes_and_hash() -> None:
    spaced = alpha_spec("(ts_zscore   (delta close 12)\n  48)")
    assert spaced.canonical_json() == alpha_spec().canonical_json()
    assert spaced.hash == alpha_spec().hash and len(spaced.hash) == 16
    # parameters given as text, as a mapping, or left at their defaults
    a = builtin_definition("momentum", "fast=10")
    b = builtin_definition("momentum", {"fast": 10, "slow": a.params[-1][1]})
    assert a == b and dict(a.params)["fast"] == 10 and len(a.params) > 1


def test_every_part_changes_the_hash() -> None:
    base = alpha_spec().hash
    changed = [
        alpha_spec("(ts_zscore (delta close 12) 24)"),
        alpha_spec(strategy=alpha_definition(ALPHA, MappingConfig(kind="threshold"), name="a1")),
        alpha_spec(trading=BacktestConfig(sizing={"fraction": 0.2})),
        alpha_spec(trading=BacktestConfig(sizing={"fraction": 0.3}, stops={"stop_loss_pct": 2.0},
                                          costs={"taker_fee_bps": 5.0})),
        alpha_spec(risk=RiskLimits(max_position_pct=30.0)),
        alpha_spec(symbols=("ETH/USDT", "BTC/USDT")),
        alpha_spec(timeframe="4h"),
        alpha_spec(window=(1_500_000_000_000, None)),
        alpha_spec(provenance=provenance_of(seed=7)),
        alpha_spec(provenance=provenance_of(seed=7, code="abc", config_id="c1")),
    ]
    hashes = {spec.hash for spec in changed}
    assert base not in hashes and len(hashes) == len(changed)


def test_the_json_rebuilds_the_spec_exactly() -> None:
    proven = provenance_of(seed=7, code="0123456789ab+dirty", config_id="c1", none=None)
    assert proven == (("code", "0123456789ab+dirty"), ("config_id", "c1"), ("seed", "7"))
    for spec in (alpha_spec(), alpha_spec(strategy=builtin_definition("momentum", "fast=5"),
                                          symbols=("BTC/USDT",), window=(None, None)),
                 alpha_spec(provenance=proven)):
        again = PolicySpec.from_json(spec.canonical_json())
        assert again == spec and again.hash == spec.hash
        assert again.canonical_json() == spec.canonical_json()


def test_the_slot_runs_the_strategy_the_spec_names() -> None:
    spec = alpha_spec()
    runner = StrategyRunner(spec.strategy, spec.symbols)
    assert runner.strategy_hash == spec.strategy.hash
    assert runner.definition == StrategyRunner.alpha(ALPHA, spec.symbols).definition


def test_an_alpha_is_the_same_policy_under_any_label() -> None:
    as_candidate = alpha_spec(strategy=alpha_definition(ALPHA, name="cand-3"))
    as_active = alpha_spec(strategy=alpha_definition(ALPHA, name="live"))
    assert as_candidate == as_active and as_candidate.hash == alpha_spec().hash
    assert as_active.strategy.name == "alpha"


def test_an_altered_or_foreign_spec_is_refused_with_the_reason() -> None:
    body = json.loads(alpha_spec().canonical_json())
    body["strategy"]["expression"] = "(sign (delta close 3))"
    with pytest.raises(ConfigError, match="was altered"):
        PolicySpec.from_json(json.dumps(body))
    body = json.loads(alpha_spec().canonical_json())
    body["version"] = 99
    with pytest.raises(ConfigError, match="version 99"):
        PolicySpec.from_json(json.dumps(body))
    body = json.loads(alpha_spec().canonical_json())
    body["risk"]["max_position_pct"] = -5
    with pytest.raises(ConfigError, match="not a policy spec"):
        PolicySpec.from_json(json.dumps(body))
    with pytest.raises(ConfigError, match="not a policy spec"):
        PolicySpec.from_json("[1, 2]")


@pytest.mark.parametrize("changes, message", [
    ({"symbols": ()}, "distinct symbols"),
    ({"symbols": ("BTC/USDT", "BTC/USDT")}, "distinct symbols"),
    ({"window": (2, 1)}, "ends \\(1\\) before it starts \\(2\\)"),
])
def test_a_malformed_policy_is_refused(changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        alpha_spec(**changes)


def test_a_template_completed_with_an_expression_is_that_alpha_s_policy() -> None:
    proven = provenance_of(seed=3, code="abc")
    template = PolicyTemplate(MappingConfig(kind="threshold"), TRADING, RISK,
                              ("BTC/USDT", "ETH/USDT"), "1h", (1_500_000_000_000, None), proven)
    again = PolicyTemplate.from_json(template.to_json())
    assert again == template and again.to_json() == template.to_json()
    policy = template.complete("(ts_zscore   (delta close 12) 48)")
    assert policy == alpha_spec(strategy=alpha_definition(ALPHA, MappingConfig(kind="threshold")),
                                window=(1_500_000_000_000, None), provenance=proven)
    runtime = runtime_form(policy)  # what a session runs: no proof window, no provenance
    assert runtime.window == (None, None) and runtime.provenance == ()
    assert runtime.strategy == policy.strategy and runtime.hash != policy.hash
    with pytest.raises(ConfigError, match="not a policy template"):
        PolicyTemplate.from_json('{"version": 2}')
    with pytest.raises(ConfigError, match="version 1 is not 2: written by another version"):
        PolicyTemplate.from_json('{"version": 1}')
