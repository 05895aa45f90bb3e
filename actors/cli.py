"""Shared command-line plumbing: project errors become ``error:`` lines and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from configs.secrets import Secrets, redact_text
from core.errors import EvotraderError


def run_command(command: Callable[[], int]) -> int:
    """Run ``command`` and turn project errors into redacted ``error:`` lines and exit codes.

    Usage and configuration errors exit 2, other project errors with their ``exit_code``,
    an interrupt with 130. Secret values from the environment never reach the terminal.
    """
    try:
        return command()
    except EvotraderError as err:
        secrets = Secrets.from_env()
        for line in str(err).splitlines() or [type(err).__name__]:
            print(f"error: {redact_text(line, secrets)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
