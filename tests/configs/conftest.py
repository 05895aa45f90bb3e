"""Helpers for the configuration tests: write TOML files and load them in isolation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from configs import LoadedConfig, load_config
from core.errors import ConfigError


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path/name`` and return the path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def load() -> Callable[..., LoadedConfig]:
    """``load_config`` with an empty environment unless one is given."""

    def run(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> LoadedConfig:
        return load_config(path, env=dict(env or {}))

    return run


@pytest.fixture
def load_error() -> Callable[..., str]:
    """The message of the ``ConfigError`` that loading raises."""

    def run(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> str:
        with pytest.raises(ConfigError) as info:
            load_config(path, env=dict(env or {}))
        assert info.value.exit_code == 2
        return str(info.value)

    return run
