"""Secrets come only from the environment, are never echoed, and print as '**********'."""

from __future__ import annotations

import pytest

from configs import REDACTED, Secrets, is_secret_key, redact_text

SECRET = "sk-live-Zx9QwErTy-0123456789"


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apikey",
        "API_KEY",
        "apiKey",
        "secret",
        "api_secret",
        "password",
        "Password",
        "token",
        "auth_token",
        "passphrase",
        "private_key",
        "private-key",
        "exchange_api_key",
        "secret_key",
    ],
)
def test_secret_looking_names(name):
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["max_tokens", "taker_fee_bps", "name", "keyspace", "profile"])
def test_ordinary_names(name):
    assert not is_secret_key(name)


@pytest.mark.parametrize(
    ("text", "key", "variable"),
    [
        ("[exchange]\napi_key = '{s}'\n", "exchange.api_key", "EVOTRADER_EXCHANGE_API_KEY"),
        ("[exchange]\nsecret = '{s}'\n", "exchange.secret", "EVOTRADER_EXCHANGE_API_SECRET"),
        ("[exchange]\nPassword = '{s}'\n", "exchange.Password", "EVOTRADER_EXCHANGE_PASSWORD"),
        ("[llm]\napi_key = '{s}'\n", "llm.api_key", "EVOTRADER_ANTHROPIC_API_KEY"),
        ("[a.b.c]\nTOKEN = '{s}'\n", "a.b.c.TOKEN", "EVOTRADER_EXCHANGE_API_KEY"),
        ("[strategy.params]\nprivate_key = '{s}'\n", "strategy.params.private_key", "EVOTRADER_"),
    ],
)
def test_a_secret_in_a_file_is_rejected_without_echoing_it(
    write_toml, load_error, text, key, variable
):
    path = write_toml(text.format(s=SECRET))
    message = load_error(path)
    assert f"{path}: {key}: secrets must not be stored in config files" in message
    assert variable in message
    assert SECRET not in message


def test_a_secret_key_in_the_environment_tree_is_rejected(load_error):
    message = load_error(env={"EVOTRADER_EXCHANGE__API_KEY": SECRET})
    assert "EVOTRADER_EXCHANGE__API_KEY: exchange.api_key: not a configuration key" in message
    assert "EVOTRADER_EXCHANGE_API_KEY" in message
    assert SECRET not in message


def test_secrets_are_read_from_the_environment(load):
    secrets = load(
        env={
            "EVOTRADER_EXCHANGE_API_KEY": SECRET,
            "EVOTRADER_EXCHANGE_API_SECRET": "s2-abcdef",
            "EVOTRADER_EXCHANGE_PASSWORD": "pw-abcdef",
            "ANTHROPIC_API_KEY": "ak-abcdef",
        }
    ).secrets
    assert secrets.exchange_api_key is not None
    assert secrets.exchange_api_key.get_secret_value() == SECRET
    assert secrets.anthropic_api_key is not None
    assert secrets.anthropic_api_key.get_secret_value() == "ak-abcdef"
    assert set(secrets.values_to_redact()) == {SECRET, "s2-abcdef", "pw-abcdef", "ak-abcdef"}


def test_the_prefixed_anthropic_key_is_accepted():
    secrets = Secrets.from_env({"EVOTRADER_ANTHROPIC_API_KEY": "ak-1"})
    assert secrets.anthropic_api_key is not None
    assert secrets.anthropic_api_key.get_secret_value() == "ak-1"


def test_unset_secrets_are_none_and_a_mapping_isolates_from_os_environ(monkeypatch):
    monkeypatch.setenv("EVOTRADER_EXCHANGE_API_KEY", "from-process")
    assert Secrets.from_env({}).exchange_api_key is None
    process = Secrets.from_env()
    assert process.exchange_api_key is not None
    assert process.exchange_api_key.get_secret_value() == "from-process"


def test_secrets_are_never_read_from_dotenv_files(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(f"EVOTRADER_EXCHANGE_API_KEY={SECRET}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVOTRADER_EXCHANGE_API_KEY", raising=False)
    assert Secrets().exchange_api_key is None


def test_repr_and_str_and_dump_redact():
    secrets = Secrets.from_env({"EVOTRADER_EXCHANGE_API_KEY": SECRET})
    for text in (repr(secrets), str(secrets), str(secrets.model_dump()), secrets.model_dump_json()):
        assert SECRET not in text
    assert REDACTED in repr(secrets)
    assert secrets.redacted() == {
        "exchange_api_key": REDACTED,
        "exchange_api_secret": None,
        "exchange_password": None,
        "anthropic_api_key": None,
    }


def test_redact_text_scrubs_every_occurrence():
    secrets = Secrets.from_env({"EVOTRADER_EXCHANGE_API_KEY": SECRET})
    assert redact_text(f"a {SECRET} b {SECRET}", secrets) == f"a {REDACTED} b {REDACTED}"
    assert redact_text("nothing", None) == "nothing"
