"""ccxt -> project error translation (unit and over real HTTP), retries, make_exchange."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest

from actors.adapters.ccxt_errors import ccxt_errors, scrub, translate
from actors.adapters.ccxt_ohlcv import make_exchange
from actors.adapters.parquet_store import ParquetStore
from actors.adapters.retry import RetryPolicy, backoff_delay, retry_call
from actors.emulator import EmulatorConfig, EmulatorServer, FaultRule
from core.data.candles import Candles
from core.errors import (
    ExchangeError,
    PermanentExchangeError,
    RateLimitError,
    TemporaryExchangeError,
    UsageError,
)

KLINES = "/api/v3/klines"


@pytest.mark.parametrize(
    ("ccxt_class", "expected"),
    [
        (ccxt.RateLimitExceeded, RateLimitError),
        (ccxt.DDoSProtection, RateLimitError),
        (ccxt.OnMaintenance, TemporaryExchangeError),
        (ccxt.ExchangeNotAvailable, TemporaryExchangeError),
        (ccxt.RequestTimeout, TemporaryExchangeError),
        (ccxt.NetworkError, TemporaryExchangeError),
        (ccxt.InvalidNonce, TemporaryExchangeError),
        (ccxt.NullResponse, TemporaryExchangeError),
        (ccxt.BadSymbol, PermanentExchangeError),
        (ccxt.AuthenticationError, PermanentExchangeError),
        (ccxt.PermissionDenied, PermanentExchangeError),
        (ccxt.InvalidOrder, PermanentExchangeError),
        (ccxt.OrderNotFound, PermanentExchangeError),
        (ccxt.BadRequest, PermanentExchangeError),
        (ccxt.InsufficientFunds, PermanentExchangeError),
        (ccxt.ExchangeError, PermanentExchangeError),
    ],
)
def test_translation_table(ccxt_class: type[Exception], expected: type[ExchangeError]) -> None:
    error = translate(ccxt_class("binance says no"), context="doing x")
    assert type(error) is expected
    assert str(error) == f"doing x: {ccxt_class.__name__}: binance says no"


def test_context_manager_and_decorator_translate() -> None:
    with pytest.raises(RateLimitError) as caught, ccxt_errors("load"):
        raise ccxt.DDoSProtection("slow down")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    @ccxt_errors("call")
    def failing() -> None:
        raise ccxt.BadSymbol("binance does not have market symbol FOO/USDT")

    with pytest.raises(PermanentExchangeError, match="call: BadSymbol: .*FOO/USDT"):
        failing()
    with pytest.raises(ValueError), ccxt_errors("other"):  # not ccxt: untouched
        raise ValueError("x")


def test_credentials_never_reach_messages() -> None:
    class Keyed:
        apiKey = "AKIAVERYSECRETKEY"  # noqa: N815 - ccxt's attribute name
        secret = "s3cr3t-value"

    text = (
        "binance GET https://api.binance.com/api/v3/account?timestamp=1&recvWindow=5000"
        "&signature=9f86d081884c7d659a2feaa0c55ad015 403 Forbidden "
        '{"apiKey": "AKIAVERYSECRETKEY", "msg": "s3cr3t-value rejected", "listenKey": "abc"}'
    )
    message = str(translate(ccxt.AuthenticationError(text), exchange=Keyed()))
    for secret in ("AKIAVERYSECRETKEY", "s3cr3t-value", "9f86d081884c7d659a2feaa0c55ad015", "abc"):
        assert secret not in message
    assert "recvWindow=5000" in message and "403 Forbidden" in message
    assert scrub("x?api_key=K1&a=1 secret=S2") == "x?api_key=<redacted>&a=1 secret=<redacted>"


# ----------------------------------------------------------------------------- over HTTP
@pytest.fixture(scope="module")
def btc_bars(shared_data: Path) -> dict[str, Candles]:
    return {"BTC/USDT": ParquetStore(shared_data).read("BINANCE", "BTC/USDT", "1h",
                                                       end_ms=1_515_000_000_000)}


@pytest.fixture
def emulator(btc_bars: dict[str, Candles]) -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(timeframe="1h"), btc_bars) as emulator:
        yield emulator


@pytest.mark.parametrize(
    ("fault", "expected", "ccxt_name"),
    [
        ({"kind": "http_429", "retry_after_s": 7}, RateLimitError, "DDoSProtection"),
        ({"kind": "reject", "status": 418, "code": -1003,
          "msg": "Way too much request weight used; IP banned"},
         RateLimitError, "DDoSProtection"),
        ({"kind": "http_5xx", "status": 502}, TemporaryExchangeError, "ExchangeNotAvailable"),
        ({"kind": "http_5xx", "status": 504}, TemporaryExchangeError, "RequestTimeout"),
        ({"kind": "http_5xx", "status": 503, "overloaded": True}, TemporaryExchangeError,
         "ExchangeError"),
        ({"kind": "reject", "code": -1121, "msg": "Invalid symbol."}, PermanentExchangeError,
         "BadSymbol"),
        ({"kind": "reject", "status": 401, "code": -2015,
          "msg": "Invalid API-key, IP, or permissions for action."},
         PermanentExchangeError, "AuthenticationError"),
    ],
)
def test_real_ccxt_errors_over_http(
    emulator: EmulatorServer, fault: dict[str, object], expected: type[ExchangeError],
    ccxt_name: str
) -> None:
    exchange = make_exchange("binance", api_url=emulator.url, rate_limit_ms=1)
    exchange.load_markets()
    emulator.add_fault(FaultRule.model_validate({**fault, "endpoint": KLINES, "nth": 1}))
    with pytest.raises(ExchangeError) as caught, ccxt_errors("fetch", exchange=exchange):
        exchange.fetch_ohlcv("BTC/USDT", "1h", since=0, limit=10)
    assert type(caught.value) is expected
    assert caught.value.ccxt_class == ccxt_name
    if fault["kind"] == "http_429":
        assert caught.value.retry_after_s == 7.0


def test_unreachable_venue_is_temporary(btc_bars: dict[str, Candles]) -> None:
    with EmulatorServer(EmulatorConfig(timeframe="1h"), btc_bars) as emulator:
        url = emulator.url  # the port is free again once the emulator stops
    exchange = make_exchange("binance", api_url=url, timeout_ms=2000)
    with pytest.raises(TemporaryExchangeError, match="NetworkError|RequestTimeout"), \
            ccxt_errors("load_markets", exchange=exchange):
        exchange.load_markets()


def test_make_exchange_rewrites_every_api_url_and_limits_markets() -> None:
    exchange = make_exchange("binance", api_url="http://127.0.0.1:9", rate_limit_ms=3)
    urls = exchange.urls["api"]
    assert urls["public"] == "http://127.0.0.1:9/api/v3"
    assert urls["fapiPublic"] == "http://127.0.0.1:9/fapi/v1"
    assert all(url.startswith("http://127.0.0.1:9/") for url in urls.values())
    assert exchange.options["fetchMarkets"] == {"types": ["spot"]}
    assert exchange.enableRateLimit and exchange.rateLimit == 3
    with pytest.raises(UsageError, match="unknown exchange id 'binanc'; did you mean binance"):
        make_exchange("binanc")
    with pytest.raises(UsageError, match="malformed --api-url"):
        make_exchange("binance", api_url="127.0.0.1:9")


# ----------------------------------------------------------------------------- retry
def test_backoff_schedule_is_deterministic() -> None:
    temporary, limited = TemporaryExchangeError("x"), RateLimitError("y")
    delays = [backoff_delay(k, temporary, base_delay_s=1, max_delay_s=10) for k in range(1, 6)]
    assert delays == [1, 2, 4, 8, 10]
    assert backoff_delay(1, limited, base_delay_s=1, max_delay_s=10) == 4
    assert backoff_delay(3, limited, base_delay_s=1, max_delay_s=10) == 10
    limited.retry_after_s = 30.0  # the venue's Retry-After wins over the cap
    assert backoff_delay(1, limited, base_delay_s=1, max_delay_s=10) == 30


def test_retry_call_retries_temporary_then_succeeds() -> None:
    outcomes: list[Exception | str] = [TemporaryExchangeError("502"), RateLimitError("429"), "ok"]
    sleeps: list[float] = []
    seen: list[tuple[int, str, float]] = []

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = retry_call(call, attempts=3, base_delay_s=0.5, max_delay_s=60, sleep=sleeps.append,
                        on_retry=lambda k, e, d: seen.append((k, str(e), d)))
    assert result == "ok"
    assert sleeps == [0.5, 4.0]
    assert seen == [(1, "502", 0.5), (2, "429", 4.0)]


def test_retry_call_gives_up_and_never_retries_permanent() -> None:
    calls: list[int] = []

    def always(error: Exception) -> None:
        calls.append(1)
        raise error

    sleeps: list[float] = []
    with pytest.raises(TemporaryExchangeError) as caught:
        retry_call(lambda: always(TemporaryExchangeError("down")), attempts=3, base_delay_s=1,
                   max_delay_s=5, sleep=sleeps.append)
    assert (len(calls), sleeps) == (3, [1, 2])
    assert caught.value.__notes__ == ["gave up after 3 attempt(s)"]
    calls.clear()
    with pytest.raises(PermanentExchangeError):
        RetryPolicy(attempts=5).call(lambda: always(PermanentExchangeError("bad")),
                                     sleep=sleeps.append)
    assert len(calls) == 1
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
