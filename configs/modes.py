"""Which trading mode a command may start, decided before anything connects anywhere.

- SIM and PAPER need nothing (PAPER reads public market data; it holds no key).
- TESTNET needs the exchange key and secret in the environment
  (``EVOTRADER_EXCHANGE_API_KEY``, ``EVOTRADER_EXCHANGE_API_SECRET``).
- LIVE needs all of: ``mode = "live"`` in the configuration (the file, or the environment's
  ``EVOTRADER_APP__MODE``; ``--mode live`` on the command line alone is not enough), the
  ``--live`` flag, the ``--i-acknowledge-risk`` flag, and the keys in the environment.

Anything less is a :class:`~core.errors.UsageError` (exit code 2) naming every missing piece.
The flags without a LIVE configuration are refused too: a flag meant for money must not be
silently ignored.
"""

from __future__ import annotations

from configs.secrets import SECRET_ENV_VARS, Secrets
from core.errors import UsageError

KEYED_MODES = ("testnet", "live")


def check_trading_mode(configured_mode: str, requested_mode: str, *, live_flag: bool,
                       acknowledged: bool, secrets: Secrets) -> None:
    """Refuse a mode the configuration, the flags or the environment do not allow.

    Args:
        configured_mode: ``[app] mode`` from the configuration (file and environment),
            before command-line options.
        requested_mode: The mode the command would run (after ``--mode``).
        live_flag: ``--live`` was given.
        acknowledged: ``--i-acknowledge-risk`` was given.
        secrets: Secrets read from the environment.

    Raises:
        UsageError: With every missing piece named.
    """
    problems: list[str] = []
    if requested_mode == "live" or live_flag or acknowledged:
        if requested_mode != "live" or configured_mode != "live":
            problems.append('LIVE trading needs mode = "live" in the configuration ([app] '
                            "mode in the config file or EVOTRADER_APP__MODE); --mode live "
                            "alone is not enough")
        if not live_flag:
            problems.append("LIVE trading needs the --live flag")
        if not acknowledged:
            problems.append("LIVE trading needs the --i-acknowledge-risk flag (real money "
                            "is at stake)")
    if requested_mode in KEYED_MODES:
        missing = [SECRET_ENV_VARS[name] for name in ("exchange_api_key", "exchange_api_secret")
                   if getattr(secrets, name) is None
                   or not getattr(secrets, name).get_secret_value()]
        if missing:
            problems.append(f"{requested_mode.upper()} needs the exchange key in the "
                            f"environment: set {' and '.join(missing)}")
    if problems:
        raise UsageError("; ".join(problems))
