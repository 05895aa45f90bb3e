"""Command-line entry point of the live system.

``python -m actors.main [--config FILE] [--mode sim] [--start T] [--until T | --duration D]
[--speed X] [--detach] [--live --i-acknowledge-risk] [run | attach | status | stop |
kill-switch | resume ID]``

``run`` (the default) connects to a running Ray cluster (``ray start --head``) or starts a
local one, starts a SIM session as supervised actors (the stepping loop itself is the
session actor, see ``actors/live``) and follows it to its end, writing
``runs/sessions/<id>/`` and printing its summary; ``--detach`` returns once it runs.
``attach`` follows the running session, ``status`` shows its supervision tree and progress,
``stop`` asks it to stop gracefully, ``kill-switch`` halts all trading at once, and
``resume ID`` continues a session whose cluster went away. ``--check-config`` validates the
configuration, prints it with secrets redacted, its config id and its sources, and exits 0.
Usage and configuration errors print
``error: ...`` lines on stderr and exit 2; any other project error exits with its
``exit_code``. A mode is checked before anything connects (``configs.modes``): TESTNET and
LIVE need the exchange key in the environment, LIVE also ``mode = "live"`` in the
configuration and both ``--live`` and ``--i-acknowledge-risk``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from actors.cli import run_command
from configs.loader import LoadedConfig, load_config, with_overrides
from configs.modes import check_trading_mode
from configs.secrets import redact_text
from core.errors import UsageError

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
        "command", nargs="?", default="run",
        choices=("run", "attach", "status", "stop", "kill-switch", "reconcile", "resume"),
        help="run a session (default); attach/status/stop/kill-switch/reconcile act on the "
        "running one; resume ID continues a session whose cluster went away",
    )
    parser.add_argument("session", nargs="?", metavar="ID",
                        help="session id (for resume: the folder name under sessions_dir)")
    parser.add_argument("--adopt", action="store_true", help="reconcile: adopt the venue's "
                        "state into the book (tag external) instead of only listing the "
                        "differences; trading resumes when they then agree")
    parser.add_argument("--detach", action="store_true", help="start the session on the "
                        "cluster and return (a local Ray is started as a `ray start` daemon)")
    parser.add_argument("--mode", choices=("sim", "paper", "testnet", "live"),
                        help="trading mode (this release runs sim only)")
    parser.add_argument("--exchange-url", metavar="URL", help="point ccxt at this API host "
                        "(e.g. the local emulator, http://127.0.0.1:8765) in any mode")
    parser.add_argument("--live", action="store_true", help="trade real money: needs "
                        'mode = "live" in the configuration and --i-acknowledge-risk')
    parser.add_argument("--i-acknowledge-risk", dest="acknowledge_risk", action="store_true",
                        help="confirm that a LIVE session trades real money")
    parser.add_argument("--start", metavar="TIME", help="first bar replayed (date, ISO time "
                        "or epoch ms; default: end of data minus the duration)")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--until", metavar="TIME", help="stop before this bar time")
    window.add_argument("--duration", metavar="D", help="market time replayed, e.g. 30d, "
                        "12h, 2w (default from [session], 90d)")
    parser.add_argument("--speed", type=float, metavar="X", help="pace at X times real time "
                        "(3600: a 1h bar per second); default as fast as possible")
    parser.add_argument("--session-id", metavar="ID", help="session folder name (default: "
                        "UTC time + config id)")
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


def session_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Configuration overrides from the session options given on the command line."""
    session: dict[str, Any] = {}
    if args.start is not None:
        session["start"] = args.start
    if args.until is not None:
        session["until"], session["duration"] = args.until, None
    if args.duration is not None:
        session["duration"] = args.duration
    if args.speed is not None:
        session["speed"] = args.speed
    overrides: dict[str, Any] = {"session": session} if session else {}
    if args.mode is not None:
        overrides["app"] = {"mode": args.mode}
    if getattr(args, "exchange_url", None) is not None:
        overrides["exchange"] = {"api_url": args.exchange_url}
    return overrides


def _run(args: argparse.Namespace) -> int:
    configured = load_config(args.config)
    overrides = session_overrides(args)
    loaded = with_overrides(configured, overrides) if overrides else configured
    check_trading_mode(configured.config.app.mode, loaded.config.app.mode,
                       live_flag=args.live, acknowledged=args.acknowledge_risk,
                       secrets=loaded.secrets)
    from actors.adapters.logging import configure_logging

    configure_logging(
        loaded.config.logging.level, loaded.config.logging.format, secrets=loaded.secrets
    )
    from actors.live.run import run_session

    if args.session is not None:
        raise UsageError(f"unexpected argument {args.session!r} (only resume takes an id)")
    run_session(loaded, session_id=args.session_id, detach=args.detach)
    return 0


def _resume(args: argparse.Namespace) -> int:
    if not args.session:
        raise UsageError("resume needs the session id: python -m actors.main resume ID "
                         "(the folder name under [session] sessions_dir)")
    loaded = load_config(args.config)
    from actors.adapters.logging import configure_logging

    configure_logging(
        loaded.config.logging.level, loaded.config.logging.format, secrets=loaded.secrets
    )
    from actors.live.run import resume_session

    resume_session(loaded.config, args.session, detach=args.detach)
    return 0


def _attach(args: argparse.Namespace) -> int:
    from actors.live.run import attach_session

    result = attach_session(load_config(args.config).config)
    if result is not None:
        print((result.folder / "session.md").read_text())
    return 0


def _control(args: argparse.Namespace) -> int:
    from actors.live.commands import run_control

    if args.adopt and args.command != "reconcile":
        raise UsageError("--adopt goes with the reconcile command")
    return run_control(args.command, load_config(args.config).config, adopt=args.adopt)


_COMMANDS: dict[str, Handler] = {"check-config": _check_config, "run": _run,
                                 "resume": _resume, "attach": _attach,
                                 "status": _control, "stop": _control,
                                 "kill-switch": _control, "reconcile": _control}


def _command_of(args: argparse.Namespace) -> str:
    """Which handler the parsed arguments select."""
    return "check-config" if args.check_config else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the selected command and return the process exit code.

    Args:
        argv: Arguments without the program name; ``None`` means ``sys.argv[1:]``.
    """
    args = build_parser().parse_args(argv)  # usage errors exit 2 inside argparse
    return run_command(lambda: _COMMANDS[_command_of(args)](args))


if __name__ == "__main__":
    sys.exit(main())
