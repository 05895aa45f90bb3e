"""Signed endpoints: ccxt's real signing path, and every way a signature check can fail."""

from __future__ import annotations

import ccxt
import pytest
import requests

from actors.emulator import EmulatorServer
from actors.emulator.http import Request
from actors.emulator.signing import sign, total_params
from tests.actors.emulator.support import START, connect

# Binance's documented example (SIGNED endpoint security, HMAC key and secret)
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_hmac_matches_binance_documentation() -> None:
    assert sign(DOC_QUERY, DOC_SECRET) == DOC_SIGNATURE
    # totalParams = query string + body (no separator), without the signature itself
    query, body = DOC_QUERY[:52], DOC_QUERY[52:]
    request = Request("POST", "/api/v3/order", {}, {}, query, body + f"&signature={'0' * 64}")
    assert total_params(request) == DOC_QUERY


def test_good_signature_through_ccxt(exchange: ccxt.binance, emulator: EmulatorServer) -> None:
    balance = exchange.fetch_balance()
    assert balance["USDT"] == {"free": 10_000.0, "used": 0.0, "total": 10_000.0}
    assert balance["BTC"]["total"] == 0.0
    logged = emulator.requests("/api/v3/account")[0]
    assert logged.status == 200 and "signature" not in logged.params
    assert int(logged.params["timestamp"]) == START


def test_signature_in_query_and_body_split(emulator: EmulatorServer) -> None:
    """A request with parameters in both the query string and the body (Binance's example)."""
    secret = emulator.config.api_secret
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.001&price=50000&recvWindow=5000&timestamp={START}"
    signature = sign(query + body, secret)
    answer = requests.post(f"{emulator.url}/api/v3/order?{query}", data=f"{body}&signature="
                           f"{signature}", timeout=5, headers={
                               "X-MBX-APIKEY": emulator.config.api_key,
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "NEW"


@pytest.mark.parametrize(
    ("change", "ccxt_class", "code"),
    [
        ({"secret": "not-the-secret"}, ccxt.AuthenticationError, -1022),
        ({"apiKey": "not-the-key"}, ccxt.AuthenticationError, -2015),
    ],
)
def test_bad_credentials(emulator: EmulatorServer, change: dict[str, str],
                         ccxt_class: type[Exception], code: int) -> None:
    exchange = connect(emulator)
    for name, value in change.items():
        setattr(exchange, name, value)
    with pytest.raises(ccxt_class) as caught:
        exchange.fetch_balance()
    assert str(code) in str(caught.value)
    assert emulator.config.api_secret not in str(caught.value)
    assert emulator.requests("/api/v3/account")[-1].code == code


def test_stale_and_future_timestamps(exchange: ccxt.binance, emulator: EmulatorServer) -> None:
    # ccxt sends recvWindow=10000 (its option); Binance's default without one is 5000
    with pytest.raises(ccxt.InvalidNonce, match="outside of the recvWindow"):
        exchange.fetch_balance({"timestamp": START - 10_001})
    exchange.fetch_balance({"timestamp": START - 10_000})  # exactly recvWindow old: accepted
    exchange.fetch_balance({"timestamp": START - 50_000, "recvWindow": 60_000})
    with pytest.raises(ccxt.InvalidNonce, match="1000ms ahead"):
        exchange.fetch_balance({"timestamp": START + 1000})
    with pytest.raises(ccxt.ExchangeError, match="-1131"):
        exchange.fetch_balance({"recvWindow": 60_001})
    emulator.clock.advance_ms(10_001)  # venue time moved on; a client clock that did not lags
    exchange.nonce = lambda: START
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance()


def test_wall_clock_check_for_clients_signing_with_their_own_clock(make_emulator) -> None:
    emulator = make_emulator(timestamp_check="wall")
    exchange = connect(emulator)
    exchange.nonce = ccxt.Exchange.milliseconds  # ccxt's default: the wall clock
    assert exchange.fetch_balance()["USDT"]["free"] == 10_000.0
    with pytest.raises(ccxt.InvalidNonce):
        exchange.fetch_balance({"timestamp": START})


def test_missing_pieces_over_raw_http(emulator: EmulatorServer) -> None:
    url = f"{emulator.url}/api/v3/account"
    key = {"X-MBX-APIKEY": emulator.config.api_key}
    cases = [({}, f"timestamp={START}", 401, -2014),
             (key, f"timestamp={START - 5001}&signature=00", 400, -1021),  # default 5000
             (key, "", 400, -1102),
             (key, f"timestamp={START}", 400, -1102),
             (key, "timestamp=abc", 400, -1100),
             (key, f"timestamp={START}&signature=00", 400, -1022)]
    for headers, query, status, code in cases:
        answer = requests.get(f"{url}?{query}", headers=headers, timeout=5)
        assert (answer.status_code, answer.json()["code"]) == (status, code), query
