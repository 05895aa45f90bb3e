"""Shared command-line plumbing: project errors become ``error:`` lines and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from configs.secrets import Secrets, redact_text
from core.errors import EvotraderError, UsageError


def run_command(command: Callable[[], int | None], *,
                interrupted: str = "interrupted") -> int:
    """Run ``command`` and turn project errors into redacted ``error:`` lines and exit codes.

    Usage and configuration errors exit 2 (usage errors add a ``--help`` hint), other project
    errors with their ``exit_code``, an interrupt with 130. Notes attached to an error
    (``add_note``) are printed as ``note:`` lines. Secret values from the environment never
    reach the terminal.

    Args:
        command: The work; returns an exit code (None means 0).
        interrupted: What to tell the user after Ctrl-C.
    """
    secrets = Secrets.from_env()
    try:
        return int(command() or 0)
    except EvotraderError as err:
        for line in str(err).splitlines() or [type(err).__name__]:
            print(f"error: {redact_text(line, secrets)}", file=sys.stderr)
        for note in getattr(err, "__notes__", ()):
            print(f"note: {redact_text(note, secrets)}", file=sys.stderr)
        if isinstance(err, UsageError):
            print("hint: run with --help for usage", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
