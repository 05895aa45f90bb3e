"""Load the configuration: defaults < ``risk.toml`` < main TOML file < ``EVOTRADER_*`` variables.

Every problem is reported as one line naming its origin (the file, or the environment
variable), the dotted key path and what is wrong; all lines go into one ``ConfigError``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from configs.app import AppConfig
from configs.problems import Provenance, describe_errors, dotted
from configs.secrets import (
    ENV_PREFIX,
    SECRET_ENV_VARS,
    MappingEnvSource,
    Secrets,
    env_var_for,
    is_secret_key,
    secret_keys_in,
)
from core.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
"""Folder of the shipped TOML files."""
RISK_FILE = PACKAGE_DIR / "risk.toml"
"""The risk profiles, layered under every main file."""
DEFAULT_FILE = PACKAGE_DIR / "default.toml"
"""The main file used when none is given (SIM, offline)."""
IGNORED_ENV_VARS = frozenset({"EVOTRADER_SHARED_DATA", *SECRET_ENV_VARS.values()})
"""``EVOTRADER_*`` variables that are not configuration overrides."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with its secrets, identity and provenance.

    Attributes:
        config: The validated configuration (no secrets).
        secrets: Secrets read from the environment.
        config_id: Content hash of ``config`` (see ``configs.identity.config_id``).
        sources: The TOML files used, lowest layer first.
        env_overrides: Names of the ``EVOTRADER_*`` variables that overrode values.
    """

    config: AppConfig
    secrets: Secrets
    config_id: str
    sources: tuple[str, ...]
    env_overrides: tuple[str, ...] = ()


def load_config(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load, merge and validate the configuration.

    Args:
        path: Main TOML file; ``None`` uses the packaged ``configs/default.toml``.
        env: Environment variables to read overrides and secrets from; ``None`` means
            ``os.environ``.

    Returns:
        The validated configuration, its secrets, config id and sources.

    Raises:
        ConfigError: With one line per problem (origin, dotted key, problem).
    """
    from configs.identity import config_id

    environ: Mapping[str, str] = os.environ if env is None else env
    provenance = Provenance()
    merged: dict[str, Any] = {}
    sources: list[str] = []
    for file in (RISK_FILE, Path(path) if path is not None else DEFAULT_FILE):
        origin = str(file)
        tree = read_toml(file)
        _reject_secrets(tree, origin)
        merged = deep_merge(merged, tree)
        provenance.record_tree(tree, origin)
        sources.append(origin)
    env_tree, overrides, problems = _env_layer(environ, provenance)
    merged = deep_merge(merged, env_tree)
    try:
        config = AppConfig.model_validate(merged)
    except ValidationError as exc:
        problems.extend(describe_errors(exc, provenance))
        config = None
    if problems or config is None:
        raise ConfigError(_join(problems))
    secrets = Secrets.from_env(environ)
    return LoadedConfig(config, secrets, config_id(config), tuple(sources), overrides)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file.

    Raises:
        ConfigError: If the file is missing, unreadable or not valid TOML (with line, column).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = re.search(r"\(at line (\d+), column (\d+)\)", message)
        where = f"line {at[1]}, column {at[2]}" if at else "end of file"
        problem = re.sub(r"\s*\(at [^)]*\)$", "", message)
        raise ConfigError(f"{path}: invalid TOML at {where}: {problem}") from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; tables merge key by key, other values replace."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _reject_secrets(tree: dict[str, Any], origin: str) -> None:
    """Raise if a file holds a secret-looking key; the value is never part of the message."""
    lines = [
        f"{origin}: {dotted(key_path)}: secrets must not be stored in config files; "
        f"set the environment variable {env_var_for(key_path)} instead"
        for key_path in secret_keys_in(tree)
    ]
    if lines:
        raise ConfigError(_join(lines))


def _env_layer(
    environ: Mapping[str, str], provenance: Provenance
) -> tuple[dict[str, Any], tuple[str, ...], list[str]]:
    """Read ``EVOTRADER_<SECTION>__<KEY>`` overrides through pydantic-settings.

    Returns:
        The override tree, the names of the variables used, and problem lines.
    """
    sections = AppConfig.model_fields
    problems: list[str] = []
    used: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if not name.upper().startswith(ENV_PREFIX) or name.upper() in IGNORED_ENV_VARS:
            continue
        parts = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        origin = f"environment variable {name}"
        if not all(parts) or parts[0] not in sections:
            problems.append(
                f"{origin}: unknown variable (matches no configuration key); {_hint(parts)}"
            )
        elif any(is_secret_key(part) for part in parts):
            problems.append(
                f"{origin}: {dotted(parts)}: not a configuration key; secrets are read from "
                f"{env_var_for(parts)}"
            )
        else:
            used[name] = value
    try:
        tree = _read_env(used)
    except SettingsError:
        good = {}
        for name, value in used.items():
            try:
                _read_env({name: value})
                good[name] = value
            except SettingsError:
                parts = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
                problems.append(
                    f"environment variable {name}: {dotted(parts)}: value is not valid JSON "
                    "(lists and tables are given as JSON, e.g. '[\"BTC/USDT\"]')"
                )
        used = good
        tree = _read_env(used)
    for name in sorted(used, key=lambda n: n.count("__")):
        parts = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        provenance.record(parts, f"environment variable {name}")
    _decode_free_scalars(tree, AppConfig)
    return tree, tuple(sorted(used)), problems


def _hint(parts: tuple[str, ...]) -> str:
    """How to spell an override, guessing the intended variable when a '__' is missing."""
    for section in AppConfig.model_fields:
        if parts[0].startswith(section + "_"):
            guess = "__".join((section, parts[0][len(section) + 1 :], *parts[1:])).upper()
            return f"did you mean {ENV_PREFIX}{guess}?"
    sections = ", ".join(AppConfig.model_fields)
    return f"use {ENV_PREFIX}<SECTION>__<KEY>[__<SUBKEY>] with a section of: {sections}"


def _read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    source = MappingEnvSource(
        AppConfig,
        environ,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
        env_parse_none_str="null",
    )
    return source()


def _decode_free_scalars(tree: dict[str, Any], model: type[BaseModel]) -> None:
    """JSON-decode env strings inside free-form tables (``strategy.params``): '10' -> 10."""
    for key, value in tree.items():
        field = model.model_fields.get(key)
        if field is None or not isinstance(value, dict):
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _decode_free_scalars(value, annotation)
        elif get_origin(annotation) is dict:
            item_type = get_args(annotation)[1]
            for item_key, item in value.items():
                if isinstance(item_type, type) and issubclass(item_type, BaseModel):
                    if isinstance(item, dict):
                        _decode_free_scalars(item, item_type)
                elif isinstance(item, str):
                    value[item_key] = _json_scalar(item)


def _json_scalar(text: str) -> Any:
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, bool | int | float | str) else text


def _join(lines: list[str]) -> str:
    unique = list(dict.fromkeys(lines))
    count = f"{len(unique)} problem{'s' if len(unique) != 1 else ''}"
    return f"invalid configuration ({count}):\n" + "\n".join(f"  {line}" for line in unique)


def with_overrides(
    loaded: LoadedConfig, overrides: Mapping[str, Any], origin: str = "command line"
) -> LoadedConfig:
    """Return ``loaded`` with ``overrides`` (a nested dict) merged on top and re-validated.

    Used for command-line options that change configuration values; the config id is
    recomputed so artifacts identify the configuration that really ran.

    Raises:
        ConfigError: Naming ``origin``, the key path and the problem for every bad value.
    """
    from configs.identity import config_id

    provenance = Provenance()
    provenance.record_tree(loaded.config.model_dump(), "the loaded configuration")
    provenance.record_tree(overrides, origin)
    merged = deep_merge(loaded.config.model_dump(), overrides)
    try:
        config = AppConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_join(describe_errors(exc, provenance))) from None
    return dataclasses.replace(loaded, config=config, config_id=config_id(config))
