"""The config id: a content hash, stable across formatting, sensitive to every value."""

from __future__ import annotations

import json

from configs import AppConfig, canonical_json, config_id

A = """
[app]
seed = 3
name = "x"

[backtest.costs]
taker_fee_bps = 5
maker_fee_bps = 2.0
"""

A_REFORMATTED = """
# same content, other layout
[backtest]
costs = { maker_fee_bps = 2, taker_fee_bps = 5.0 }
[app]
name    =    'x'
seed=3
"""


def test_same_content_same_id(write_toml, load):
    first = load(write_toml(A, "a.toml"))
    second = load(write_toml(A_REFORMATTED, "b.toml"))
    assert first.config_id == second.config_id
    assert first.config == second.config


def test_a_value_change_changes_the_id(write_toml, load):
    base = load(write_toml(A, "a.toml")).config_id
    changed = load(write_toml(A.replace("seed = 3", "seed = 4"), "c.toml")).config_id
    assert base != changed
    env_changed = load(write_toml(A, "a.toml"), env={"EVOTRADER_DATA__DIR": "/y"}).config_id
    assert env_changed != base


def test_secrets_are_not_part_of_the_id(load):
    plain = load()
    with_keys = load(env={"EVOTRADER_EXCHANGE_API_KEY": "k-1", "ANTHROPIC_API_KEY": "a-1"})
    assert plain.config_id == with_keys.config_id
    assert "k-1" not in canonical_json(with_keys.config)


def test_id_is_the_sha256_prefix_of_canonical_json():
    import hashlib

    config = AppConfig()
    text = canonical_json(config)
    parsed = json.loads(text)
    assert text == json.dumps(parsed, sort_keys=True, separators=(",", ":"))  # compact, sorted
    assert parsed == config.model_dump(mode="json")
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert config_id(config) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert len(config_id(config)) == 16
