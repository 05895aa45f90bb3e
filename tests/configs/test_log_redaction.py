"""Logs never carry a secret: by key name or by value, in JSON and console output."""

from __future__ import annotations

import io

import pytest
import structlog

from actors.adapters.logging import configure_logging, get_logger
from configs import REDACTED, Secrets

SECRET = "AKIA-evotrader-test-secret-42"


@pytest.fixture(autouse=True)
def _reset_structlog():
    yield
    structlog.reset_defaults()


class _Leaky:
    def __repr__(self) -> str:
        return f"Leaky({SECRET})"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_logged_secret_never_appears(fmt):
    stream = io.StringIO()
    secrets = Secrets.from_env({"EVOTRADER_EXCHANGE_API_KEY": SECRET})
    configure_logging("DEBUG", fmt, secrets=secrets, stream=stream)
    log = get_logger("test")
    log.info(f"connecting with key {SECRET}", url=f"https://x?k={SECRET}")
    log.info("keys", api_key="anything", nested={"password": "pw", "items": [SECRET]})
    log.debug("object", value=_Leaky(), secret_obj=secrets.exchange_api_key)
    try:
        raise RuntimeError(f"venue refused {SECRET}")
    except RuntimeError:
        log.exception("failure")
    output = stream.getvalue()
    assert SECRET not in output
    assert "anything" not in output
    assert REDACTED in output
    assert "connecting with key" in output and "failure" in output


def test_levels_filter_and_json_lines_parse():
    import json

    stream = io.StringIO()
    configure_logging("WARNING", "json", stream=stream)
    log = get_logger("x")
    log.info("hidden")
    log.warning("shown", token="t-1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "shown"
    assert event["token"] == REDACTED
    assert event["logger"] == "x"
    assert event["level"] == "warning"


def test_bad_level_or_format_is_rejected():
    with pytest.raises(ValueError):
        configure_logging("LOUD", "json")
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml")
