"""Command-line entry point: ``python -m actors.main [--config FILE] [--check-config]``.

Without options it loads the configuration and runs the system (``actors.demo.run_demo``).
``--check-config`` validates the configuration, prints it with secrets redacted, its config id
and its sources, and exits 0. Configuration errors print ``error: ...`` lines on stderr and exit
2; any other project error exits with its ``exit_code``.

Commands are dispatched through ``_COMMANDS`` so that subcommands (``status``, ``stop``,
``kill-switch``) can later be added as argparse subparsers, each mapped to a handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from actors.cli import run_command
from configs.loader import LoadedConfig, load_config
from configs.secrets import redact_text

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m actors.main``."""
    parser = argparse.ArgumentParser(
        prog="python -m actors.main",
        description="evotrader: evolve, validate and trade crypto alphas under hard risk limits.",
        epilog="Environment overrides: EVOTRADER_<SECTION>__<KEY>=value "
        "(e.g. EVOTRADER_DATA__DIR=/data). Secrets only from EVOTRADER_EXCHANGE_API_KEY, "
        "EVOTRADER_EXCHANGE_API_SECRET, EVOTRADER_EXCHANGE_PASSWORD, EVOTRADER_ANTHROPIC_API_KEY.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="main TOML config file (default: the packaged configs/default.toml, SIM mode)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration, print it (secrets redacted) with its config id, exit",
    )
    return parser


def render_check(loaded: LoadedConfig) -> str:
    """Human-readable dump of a loaded config for ``--check-config`` (secrets redacted)."""
    document = loaded.config.model_dump(mode="json")
    document["secrets"] = loaded.secrets.redacted()
    lines = [
        json.dumps(document, indent=2, ensure_ascii=False),
        f"config_id: {loaded.config_id}",
        "sources:",
        *(f"  {source}" for source in loaded.sources),
    ]
    if loaded.env_overrides:
        lines.append("environment overrides:")
        lines.extend(f"  {name}" for name in loaded.env_overrides)
    return redact_text("\n".join(lines), loaded.secrets)


def _check_config(args: argparse.Namespace) -> int:
    print(render_check(load_config(args.config)))
    return 0


def _run(args: argparse.Namespace) -> int:
    loaded = load_config(args.config)
    from actors.adapters.logging import configure_logging

    configure_logging(
        loaded.config.logging.level, loaded.config.logging.format, secrets=loaded.secrets
    )
    from actors.demo import run_demo

    return int(run_demo(loaded))


_COMMANDS: dict[str, Handler] = {"check-config": _check_config, "run": _run}


def _command_of(args: argparse.Namespace) -> str:
    """Which handler the parsed arguments select (later: the subparser's ``command``)."""
    return "check-config" if args.check_config else "run"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the selected command and return the process exit code.

    Args:
        argv: Arguments without the program name; ``None`` means ``sys.argv[1:]``.
    """
    args = build_parser().parse_args(argv)  # usage errors exit 2 inside argparse
    return run_command(lambda: _COMMANDS[_command_of(args)](args))


if __name__ == "__main__":
    sys.exit(main())
