"""Checkpoints of an actor's hard state: one pickle file per owner, replaced atomically.

An actor loads its checkpoint in ``__init__`` when the file exists (a restart) and starts
empty otherwise (a cold start): the same code path either way. The file is written to a
temporary name, fsynced and renamed over the old one, so a kill at any moment leaves either
the old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from core.errors import EvotraderError


class CheckpointError(EvotraderError):
    """A checkpoint file exists but cannot be read: the session must not continue blindly."""


class Checkpoint:
    """The checkpoint file of one owner.

    Args:
        folder: The session's state folder.
        owner: Readable owner name (``executor``, ``guardian``, ``candidate-mom-fast``, ...).
    """

    def __init__(self, folder: str | Path, owner: str) -> None:
        self.path = Path(folder) / f"{owner}.pkl"

    def load(self) -> Any | None:
        """The saved state, or None when there is none (cold start).

        Raises:
            CheckpointError: The file is unreadable.
        """
        if not self.path.exists():
            return None
        try:
            with self.path.open("rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise CheckpointError(f"cannot read checkpoint {self.path}: {exc}") from exc

    def save(self, state: Any) -> None:
        """Replace the checkpoint with ``state`` atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".tmp{os.getpid()}")
        with temporary.open("wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
