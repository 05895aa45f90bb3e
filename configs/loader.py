"""Load the configuration: defaults < ``risk.toml`` < main TOML file < ``EVOTRADER_*`` variables.

Every problem is reported as one line naming its origin (the file, or the environment
variable), the dotted key path and what is wrong; all lines go into one ``ConfigError``.
"""

from __future__ import annotations

import difflib
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


# --- turning pydantic errors into "origin: key.path: problem" lines -------------------------


class Provenance:
    """Which layer (file or environment variable) set each key path last."""

    def __init__(self) -> None:
        self._origins: dict[tuple[str, ...], str] = {}

    def record(self, path: tuple[str, ...], origin: str) -> None:
        """Note that ``origin`` set ``path`` (replacing what earlier layers set there)."""
        size = len(path)
        for known in list(self._origins):
            if known[:size] == path or path[: len(known)] == known:
                del self._origins[known]
        self._origins[path] = origin

    def record_tree(self, tree: Mapping[str, Any], origin: str, path: tuple[str, ...] = ()) -> None:
        """Record every leaf of a parsed file (tables recurse, other values are leaves)."""
        for key, value in tree.items():
            if isinstance(value, Mapping) and value:
                self.record_tree(value, origin, (*path, key))
            else:
                self.record((*path, key), origin)

    def origin_of(self, loc: tuple[Any, ...]) -> str:
        """The origin of the value at ``loc``, or of everything below it (joined), or defaults."""
        for size in range(len(loc), 0, -1):
            if loc[:size] in self._origins:
                return self._origins[loc[:size]]
        below = [o for p, o in self._origins.items() if p[: len(loc)] == loc]
        return ", ".join(dict.fromkeys(below)) or "built-in defaults"


def dotted(loc: tuple[Any, ...]) -> str:
    """``("data", "symbols", 0)`` -> ``"data.symbols[0]"``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def describe_errors(exc: ValidationError, provenance: Provenance) -> list[str]:
    """One ``origin: key.path: problem`` line per error of a validation of ``AppConfig``."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        problem = _problem(error)
        if loc:
            lines.append(f"{provenance.origin_of(loc)}: {dotted(loc)}: {problem}")
        else:  # a cross-section check: blame the layers that set the keys it names
            named = re.findall(r"\b[a-z_]+(?:\.[a-z_]+)+\b", problem)
            origins = [provenance.origin_of(tuple(key.split("."))) for key in named]
            origin = ", ".join(dict.fromkeys(origins)) or provenance.origin_of(())
            lines.append(f"{origin}: {problem}")
    return lines


_EXPECTED = {
    "float": "a number",
    "int": "an integer",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a table",
    "model": "a table",
    "model_attributes": "a table",
}
_BOUNDS = {
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
}


def _problem(error: Any) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, _show(error.get("input"))
    base = kind.rsplit("_", 1)[0]
    if kind == "extra_forbidden":
        return "unknown key" + _suggest(tuple(error["loc"]))
    if kind == "missing":
        return "required key is missing"
    if kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        return f"must be {op} {_show(ctx[name])} (got {got})"
    if base in _EXPECTED and kind.endswith(("_type", "_parsing")):
        return f"expected {_EXPECTED[base]}, got {got}"
    if kind == "int_from_float":
        return f"expected an integer, got {got}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']} (got {got})"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else error["msg"].lower()
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx['pattern']} (got {got})"
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = str(error["msg"])
    return f"{message[0].lower()}{message[1:]} (got {got})"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if value is None:
        return "nothing (null)"
    return f"a {'table' if isinstance(value, Mapping) else type(value).__name__}"


def _suggest(loc: tuple[Any, ...]) -> str:
    """' (did you mean 'x'?)' for a misspelled key, from the fields of the enclosing model."""
    annotation: Any = AppConfig
    for part in loc[:-1]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else None
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return ""
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(annotation.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
