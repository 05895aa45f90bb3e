"""Secrets (API keys, tokens): read only from environment variables, redacted everywhere.

Config files never hold secrets: a secret-looking key in a TOML file is a ``ConfigError``
(see ``secret_keys_in``). ``Secrets`` prints as ``'**********'`` and ``redact_text`` scrubs the
actual values out of any text that leaves the process (logs, ``--check-config`` output).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

REDACTED = "**********"
"""What a secret is replaced with wherever it would be shown."""

ENV_PREFIX = "EVOTRADER_"
"""Prefix of every environment variable the system reads."""

SECRET_ENV_VARS: dict[str, str] = {
    "exchange_api_key": "EVOTRADER_EXCHANGE_API_KEY",
    "exchange_api_secret": "EVOTRADER_EXCHANGE_API_SECRET",
    "exchange_password": "EVOTRADER_EXCHANGE_PASSWORD",
    "anthropic_api_key": "EVOTRADER_ANTHROPIC_API_KEY",
}
"""Field of ``Secrets`` -> the environment variable it is read from."""

_SECRET_WORDS = frozenset({"secret", "password", "passwd", "token", "passphrase", "apikey"})
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("evotrader_environ", default=None)


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(name: str) -> bool:
    """Whether a key name looks like it holds a secret.

    Matches, case-insensitively and as whole words: ``secret``, ``password``, ``token``,
    ``passphrase``, ``apikey``, ``api_key``, ``private_key`` (also in camelCase or with
    dashes, e.g. ``exchangeApiKey``). ``max_tokens`` is not a secret.
    """
    words = _words(name)
    if any(w in _SECRET_WORDS for w in words) or "".join(words) in {"apikey", "privatekey"}:
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(words, words[1:], strict=False))


def env_var_for(path: tuple[str, ...]) -> str:
    """The environment variable(s) a secret found at ``path`` in a config must come from."""
    words = [w for part in path for w in _words(part)]
    if "anthropic" in words or "llm" in words:
        return SECRET_ENV_VARS["anthropic_api_key"]
    if words and words[-1] in {"password", "passwd", "passphrase"}:
        return SECRET_ENV_VARS["exchange_password"]
    if words and words[-1] == "secret":
        return SECRET_ENV_VARS["exchange_api_secret"]
    if "exchange" in words or words[-2:] in (["api", "key"], ["apikey"]):
        return SECRET_ENV_VARS["exchange_api_key"]
    return " or ".join(SECRET_ENV_VARS.values())


def secret_keys_in(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Yield the key path of every secret-looking key in a nested dict/list, at any depth."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = (*path, str(key))
            if is_secret_key(str(key)):
                yield here
            else:
                yield from secret_keys_in(value, here)
    elif isinstance(tree, list):
        for item in tree:
            yield from secret_keys_in(item, path)


class MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: Any, environ: Mapping[str, str], **kwargs: Any) -> None:
        self._environ = dict(environ)
        super().__init__(settings_cls, **kwargs)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Secrets(BaseSettings):
    """API keys and tokens, read ONLY from environment variables (or keyword arguments).

    No dotenv or secrets-directory source is used: nothing is ever read from a file.

    Every value is a ``SecretStr``: ``repr`` and ``str`` show ``'**********'``.
    Use ``Secrets.from_env(mapping)`` to read from a mapping instead of ``os.environ``.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore", frozen=True
    )

    exchange_api_key: SecretStr | None = Field(
        None, description="Exchange API key (EVOTRADER_EXCHANGE_API_KEY)."
    )
    exchange_api_secret: SecretStr | None = Field(
        None, description="Exchange API secret (EVOTRADER_EXCHANGE_API_SECRET)."
    )
    exchange_password: SecretStr | None = Field(
        None,
        description="Exchange passphrase, for venues that need one (EVOTRADER_EXCHANGE_PASSWORD).",
    )
    anthropic_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("EVOTRADER_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
        description="Anthropic API key of the nightly reviewer (EVOTRADER_ANTHROPIC_API_KEY, "
        "or ANTHROPIC_API_KEY).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment (or ``from_env``'s mapping); never files."""
        environ = _environ.get()
        if environ is None:
            return (init_settings, env_settings)
        return (init_settings, MappingEnvSource(settings_cls, environ))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """Read the secrets from ``env`` (default: ``os.environ``).

        Args:
            env: Environment variables to read; ``None`` means the process environment.
        """
        token = _environ.set(env)
        try:
            return cls()
        finally:
            _environ.reset(token)

    def values_to_redact(self) -> tuple[str, ...]:
        """The non-empty secret values, longest first (for scrubbing text)."""
        values = {s.get_secret_value() for s in self._secret_fields() if s is not None}
        return tuple(sorted(values - {""}, key=len, reverse=True))

    def redacted(self) -> dict[str, str | None]:
        """Field name -> ``'**********'`` when set, ``None`` when not."""
        return {name: None if getattr(self, name) is None else REDACTED for name in SECRET_ENV_VARS}

    def _secret_fields(self) -> list[SecretStr | None]:
        return [getattr(self, name) for name in SECRET_ENV_VARS]


def redact_text(text: str, secrets: Secrets | None) -> str:
    """Replace every occurrence of a secret value in ``text`` with ``'**********'``."""
    if secrets is None:
        return text
    for value in secrets.values_to_redact():
        text = text.replace(value, REDACTED)
    return text
