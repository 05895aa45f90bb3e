from __future__ import annotations

import pytest

from configs.modes import check_trading_mode
from configs.secrets import Secrets
from core.errors import UsageError

KEYS = Secrets.from_env({"EVOTRADER_EXCHANGE_API_KEY": "k" * 16,
                         "EVOTRADER_EXCHANGE_API_SECRET": "s" * 16})
NO_KEYS = Secrets.from_env({})


def check(configured: str, requested: str, live: bool = False, ack: bool = False,
          secrets: Secrets = KEYS) -> None:
    check_trading_mode(configured, requested, live_flag=live, acknowledged=ack,
                       secrets=secrets)


@pytest.mark.parametrize("mode", ["sim", "paper"])
def test_sim_and_paper_need_no_key(mode: str) -> None:
    check("sim", mode, secrets=NO_KEYS)


def test_live_needs_config_mode_and_both_flags_and_keys() -> None:
    check("live", "live", live=True, ack=True)


@pytest.mark.parametrize(("configured", "requested", "live", "ack", "secrets", "missing"), [
    ("sim", "live", True, True, KEYS, ['mode = "live" in the configuration']),
    ("live", "live", False, True, KEYS, ["--live flag"]),
    ("live", "live", True, False, KEYS, ["--i-acknowledge-risk"]),
    ("live", "live", False, False, NO_KEYS,
     ["--live flag", "--i-acknowledge-risk", "EVOTRADER_EXCHANGE_API_KEY and "
      "EVOTRADER_EXCHANGE_API_SECRET"]),
    ("sim", "sim", True, True, KEYS, ['mode = "live"']),  # flags for money are not ignored
    ("live", "paper", False, True, KEYS, ['mode = "live"', "--live flag"]),
    ("testnet", "testnet", False, False, NO_KEYS, ["TESTNET needs the exchange key"]),
])
def test_anything_less_is_a_usage_error_naming_every_missing_piece(
        configured: str, requested: str, live: bool, ack: bool, secrets: Secrets,
        missing: list[str]) -> None:
    with pytest.raises(UsageError) as info:
        check(configured, requested, live, ack, secrets)
    for piece in missing:
        assert piece in str(info.value)


def test_an_empty_key_counts_as_missing() -> None:
    empty = Secrets.from_env({"EVOTRADER_EXCHANGE_API_KEY": "",
                              "EVOTRADER_EXCHANGE_API_SECRET": "s" * 16})
    with pytest.raises(UsageError, match="EVOTRADER_EXCHANGE_API_KEY"):
        check("testnet", "testnet", secrets=empty)
