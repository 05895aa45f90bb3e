"""Binance's error codes refine ccxt's classes at the boundary (one ordered table)."""

from __future__ import annotations

import ccxt
import pytest

from actors.adapters.ccxt_errors import translate, venue_error_code
from core.errors import (
    DuplicateOrderError,
    OrderNotFoundError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    PermanentExchangeError,
    RateLimitError,
    TemporaryExchangeError,
    VenueClockError,
)


def body(code: int, msg: str) -> str:
    return f'binance {{"code":{code},"msg":"{msg}"}}'


@pytest.mark.parametrize(("exc", "project", "reason"), [
    (ccxt.BadRequest(body(-1013, "Filter failure: LOT_SIZE")), OrderRejectedError,
     "filter_failure_lot_size"),
    (ccxt.InvalidOrder(body(-1013, "Filter failure: NOTIONAL")), OrderRejectedError,
     "filter_failure_notional"),
    (ccxt.ExchangeError(body(-2010, "Duplicate order sent.")), DuplicateOrderError, None),
    (ccxt.InsufficientFunds(body(-2010, "Account has insufficient balance for requested "
                                 "action.")), OrderRejectedError, "insufficient_balance"),
    (ccxt.OrderNotFound(body(-2013, "Order does not exist.")), OrderNotFoundError, None),
    (ccxt.OrderNotFound(body(-2011, "Unknown order sent.")), OrderNotFoundError, None),
    (ccxt.ExchangeError(body(-1006, "An unexpected response was received from the message "
                             "bus. Execution status unknown.")), OrderOutcomeUnknownError, None),
    (ccxt.RequestTimeout(body(-1007, "Timeout waiting for response from backend server. "
                              "Send status unknown; execution status unknown.")),
     OrderOutcomeUnknownError, None),
    (ccxt.InvalidNonce(body(-1021, "Timestamp for this request is outside of the "
                            "recvWindow.")), VenueClockError, None),
    (ccxt.DDoSProtection(body(-1003, "Too many requests")), RateLimitError, None),
    (ccxt.ExchangeError(body(-2010, "Order would immediately match and take.")),
     OrderRejectedError, "venue_rejected"),
])
def test_the_venue_code_decides_the_class_and_reason(exc, project, reason) -> None:
    error = translate(exc, context="create_order BTC/USDT")
    assert type(error) is project
    assert error.venue_code == venue_error_code(exc)[0]
    if reason is not None:
        assert error.reason == reason
    assert isinstance(OrderOutcomeUnknownError("x"), TemporaryExchangeError)
    assert isinstance(DuplicateOrderError("x"), PermanentExchangeError)


def test_no_code_keeps_the_class_table() -> None:
    error = translate(ccxt.RequestTimeout("binance GET https://x timed out"))
    assert type(error) is TemporaryExchangeError and error.venue_code is None


def test_the_last_json_body_wins_over_the_text_and_secrets_stay_out() -> None:
    class Venue:
        last_json_response = {"code": -2013, "msg": "Order does not exist. key=SECRETKEY123"}
        apiKey = "SECRETKEY123"  # noqa: N815 - the name ccxt uses

    error = translate(ccxt.ExchangeError("binance something"), exchange=Venue())
    assert type(error) is OrderNotFoundError
    assert "SECRETKEY123" not in error.venue_message and "SECRETKEY123" not in str(error)
