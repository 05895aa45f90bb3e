"""Helpers shared by the ``scripts/bench_*.py`` benchmarks: machine header, goals, JSON output."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]


def machine_info(packages: Sequence[str] = ("ray", "numpy")) -> dict[str, Any]:
    """CPU count and model, memory, load, Python and the given packages' versions."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count() or 1,
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_1m_at_start": round(load[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for name in packages:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "missing"
    return info


def git_state(paths: Sequence[str] = ("core", "actors", "configs")) -> dict[str, Any]:
    """HEAD commit and the files under ``paths`` with uncommitted changes."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True,
                                  text=True, timeout=30, check=False)
        except OSError:
            return ""
        return done.stdout if done.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--", *paths).splitlines()
             if line.strip()]
    return {"git_head": git("rev-parse", "--short", "HEAD").strip() or "unknown",
            "git_uncommitted_engine_files": ",".join(dirty)}


@dataclass(frozen=True)
class Goal:
    """A figure's goal: ``value <op> bound`` (``op`` one of ``<``, ``<=``, ``>=``, ``>``)."""

    op: str
    bound: float
    shown: str

    def met(self, value: Any) -> bool:
        """Whether ``value`` meets the goal (NaN, None and non-numbers never do)."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not math.isfinite(value):
            return False
        return bool({"<": value < self.bound, "<=": value <= self.bound,
                     ">=": value >= self.bound, ">": value > self.bound}[self.op])


def jsonable(value: Any) -> Any:
    """Plain JSON values (NaN/inf become None so the file stays standard JSON)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, figures: Mapping[str, Any]) -> None:
    """Write ``figures`` as a flat, standard JSON object."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: jsonable(v) for k, v in figures.items()}, indent=2) + "\n")


def print_table(rows: Iterable[tuple[str, ...]],
                header: tuple[str, ...] = ("figure", "value", "goal / reference", "result")
                ) -> None:
    """Print rows as an aligned plain-text table."""
    rows = list(rows)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)
