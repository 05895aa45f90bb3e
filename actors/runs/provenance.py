"""Where a run came from: code version, configuration identity and the data it read."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def git_state(root: Path = REPO_ROOT) -> dict[str, Any]:
    """The commit checked out at ``root`` and whether the tree has uncommitted changes.

    Returns ``{"commit": None, "dirty": None}`` outside a git checkout.
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def code_version(root: Path = REPO_ROOT) -> str:
    """The code a result came from (12 hex of the commit, or the installed version).

    ``+dirty`` marks a checkout with uncommitted changes to tracked files.
    """
    state = git_state(root)
    if state["commit"] is not None:
        return state["commit"][:12] + ("+dirty" if state["dirty"] else "")
    try:
        return f"evotrader {metadata.version('evotrader')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def software_versions() -> dict[str, str]:
    """Versions of the project and of the libraries that shape the numbers."""
    versions = {"python": platform.python_version()}
    for package in ("evotrader", "numpy", "numba", "pandas", "pyarrow"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
