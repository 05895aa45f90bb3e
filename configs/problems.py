"""Turn pydantic validation errors into ``origin: key.path: problem`` lines.

The origin is the layer that set the key last: a TOML file, an environment variable, the
command line, or the built-in defaults.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from configs.app import AppConfig


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
