"""Helpers for tests that run real SIM sessions on the shared test Ray cluster."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.live.run import SessionResult, run_session
from configs.loader import LoadedConfig, load_config

SESSION_FILES = ("orders.csv", "fills.csv", "positions.csv", "equity.csv",
                 "risk_events.jsonl", "diary.jsonl", "session.md")


def session_config(tmp_path: Path, data_dir: Path | str, *, symbols: tuple[str, ...] = (
        "BTC/USDT", "ETH/USDT"), duration: str = "30d", until: str | None = "2025-06-01",
        candidates: list[dict[str, Any]] | None = None, extra: str = "",
        batch_bars: int = 96, speed: float | None = None, mode: str = "sim",
        timeframe: str | None = None, exchange_url: str | None = None,
        start: str | None = None, exchange_extra: str = "", session_extra: str = "",
        sim_reference: bool = False) -> LoadedConfig:
    """A session config in ``tmp_path`` (offline, real data, small batches).

    A live session's SIM reference (one more actor) runs only when ``sim_reference``.
    """
    names = ", ".join(f'"{s}"' for s in symbols)
    lines = [
        "[app]", f'mode = "{mode}"',
        "[data]", f'dir = "{data_dir}"', f"symbols = [{names}]",
    ]
    if timeframe is not None:
        lines.append(f'timeframe = "{timeframe}"')
    if mode != "sim":
        lines.append("synthetic_fallback = false")
    if exchange_url is not None:
        lines += ["[exchange]", f'api_url = "{exchange_url}"', exchange_extra]
    lines += [
        "[session]", f'duration = "{duration}"',
        f'sessions_dir = "{tmp_path / "sessions"}"',
        f"batch_bars = {batch_bars}", "retry_timeout_s = 60.0", "heartbeat_s = 0.5",
    ]
    if start is not None:
        lines.append(f'start = "{start}"')
    if until is not None:
        lines.append(f'until = "{until}"')
    if speed is not None:
        lines.append(f"speed = {speed}")
    if candidates is not None:
        lines.append("candidates = [" + ", ".join(_inline(c) for c in candidates) + "]")
    if session_extra:
        lines.append(session_extra)
    if not sim_reference:
        lines.append("sim_reference = false")
    lines += ["[store]", f'path = "{tmp_path / "store.sqlite"}"']
    lines += ["[guardian]", f'kill_switch_file = "{tmp_path / "KILL"}"', extra]
    path = tmp_path / "session.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, env={})


def _inline(table: dict[str, Any]) -> str:
    parts = []
    for key, value in table.items():
        if isinstance(value, dict):
            parts.append(f"{key} = {_inline(value)}")
        elif isinstance(value, str):
            parts.append(f'{key} = "{value}"')
        else:
            parts.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    return "{" + ", ".join(parts) + "}"


def run(loaded: LoadedConfig, session_id: str,
        on_step: Callable[[int, SessionResult], None] | None = None) -> SessionResult:
    """Run a session quietly and return its result."""
    return run_session(loaded, session_id=session_id, on_step=on_step, quiet=True)


def read(folder: Path, name: str) -> bytes:
    """A session file's bytes."""
    return (folder / name).read_bytes()


SHORT = {"duration": "30d", "batch_bars": 12,
         "candidates": [{"name": "meanrev", "strategy": "mean_reversion"}]}
"""A short session (60 steps, one candidate) that tests disturb once."""
LONG = {"duration": "60d", "batch_bars": 4,
        "candidates": [{"name": "meanrev", "strategy": "mean_reversion"}]}
"""A longer session (360 steps, one candidate) for many kills."""


class Baselines:
    """Undisturbed runs shared by the tests of one pytest session.

    Many tests disturb a session (kill an actor, freeze one, ...) and compare its files with
    an undisturbed run of the same configuration. The undisturbed run is the same for every
    such test with the same settings, so it runs once (the files of a session never depend on
    its id or folder). Ask with the keyword arguments of :func:`session_config`.
    """

    def __init__(self, root: Path, data_dir: Path) -> None:
        self._root, self._data_dir = root, data_dir
        self._runs: dict[str, SessionResult] = {}

    def get(self, **settings: Any) -> SessionResult:
        """The undisturbed run of ``session_config(<folder>, <data>, **settings)``."""
        bound = inspect.signature(session_config).bind(None, None, **settings)
        bound.apply_defaults()
        key = json.dumps({k: v for k, v in bound.arguments.items()
                          if k not in ("tmp_path", "data_dir")}, sort_keys=True, default=str)
        if key not in self._runs:
            folder = self._root / f"baseline-{len(self._runs)}"
            folder.mkdir(parents=True)
            loaded = session_config(folder, self._data_dir, **settings)
            self._runs[key] = run(loaded, f"baseline-{len(self._runs)}")
        return self._runs[key]
