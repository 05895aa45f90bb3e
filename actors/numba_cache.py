"""Point numba's on-disk cache at a folder keyed by the content of ``core/``.

numba's ``cache=True`` checks only the source file of the cached function, not the jitted
helpers it inlines from other modules, so after an edit to a helper a stale kernel could
run. Keying the folder by a hash of every ``core/`` source makes any edit start a fresh
cache. This must run before numba is imported; ``actors/__init__`` calls it, and every
entry point imports ``actors`` first. An explicit ``NUMBA_CACHE_DIR`` always wins.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

KEEP = 3
"""How many cache folders (source versions) to keep."""


def source_digest(package: Path) -> str:
    """A short hash of every ``.py`` file below ``package`` (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def configure(root: Path | None = None) -> Path | None:
    """Set ``NUMBA_CACHE_DIR`` unless it is already set; returns the folder (or None).

    Args:
        root: Parent of the per-version folders (default ``~/.cache/evotrader/numba``).
    """
    if "NUMBA_CACHE_DIR" in os.environ:
        return None
    import core

    base = root or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
        "evotrader" / "numba"
    folder = base / source_digest(Path(core.__file__).parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.touch()
        versions = sorted(base.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in versions[KEEP:]:
            shutil.rmtree(stale, ignore_errors=True)
    except OSError:
        return None  # unwritable home: numba falls back to its default locations
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    return folder
