"""Binance's error answers: ``{"code": -2013, "msg": "Order does not exist."}`` and HTTP status.

Handlers raise :class:`BinanceError`; the server turns it into the JSON body Binance sends.
The factories below carry Binance's exact codes and messages, so ccxt maps them to the same
exception classes it raises against the real venue.
"""

from __future__ import annotations

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
INTEGER_RANGE = r"^[0-9]{1,20}$"
CLIENT_ID_RANGE = r"^[a-zA-Z0-9-_]{1,36}$"


class BinanceError(Exception):
    """An error answer in Binance's format.

    Attributes:
        code: Binance's error code (negative), e.g. -2013.
        msg: Binance's message.
        status: HTTP status of the answer (400 unless Binance uses another one).
        headers: Extra response headers (``Retry-After`` of rate limits).
    """

    def __init__(self, code: int, msg: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        """The JSON body: ``{"code": ..., "msg": ...}``."""
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    """-1102: a mandatory parameter is missing or empty."""
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                               "or malformed.")


def illegal(name: str, legal: str) -> BinanceError:
    """-1100: a parameter does not match its legal range."""
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                               f"is '{legal}'.")


def invalid_value(name: str) -> BinanceError:
    """-1130: a parameter has a value outside what the endpoint accepts."""
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


def not_required(name: str) -> BinanceError:
    """-1106: a parameter was sent that the order type does not take."""
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def invalid_symbol() -> BinanceError:
    """-1121: unknown symbol."""
    return BinanceError(-1121, "Invalid symbol.")


def invalid_interval() -> BinanceError:
    """-1120: unknown or unserved kline interval."""
    return BinanceError(-1120, "Invalid interval.")


def invalid_order_type() -> BinanceError:
    """-1116: unknown order type."""
    return BinanceError(-1116, "Invalid orderType.")


def invalid_side() -> BinanceError:
    """-1117: unknown side."""
    return BinanceError(-1117, "Invalid side.")


def invalid_time_in_force() -> BinanceError:
    """-1115: unknown time in force."""
    return BinanceError(-1115, "Invalid timeInForce.")


def filter_failure(name: str) -> BinanceError:
    """-1013: an exchangeInfo filter refused the order (``LOT_SIZE``, ``NOTIONAL``, ...)."""
    return BinanceError(-1013, f"Filter failure: {name}")


def new_order_rejected(msg: str) -> BinanceError:
    """-2010: the matching engine refused the new order."""
    return BinanceError(-2010, msg)


def insufficient_balance() -> BinanceError:
    """-2010: not enough free balance for the order."""
    return new_order_rejected("Account has insufficient balance for requested action.")


def duplicate_order() -> BinanceError:
    """-2010: the client order id belongs to an order that is still open."""
    return new_order_rejected("Duplicate order sent.")


def order_not_found() -> BinanceError:
    """-2013: the queried order does not exist."""
    return BinanceError(-2013, "Order does not exist.")


def unknown_order() -> BinanceError:
    """-2011: cancel of an order that does not exist or is no longer open."""
    return BinanceError(-2011, "Unknown order sent.")


def order_list_not_found() -> BinanceError:
    """-2013: the queried order list does not exist."""
    return BinanceError(-2013, "Order list does not exist.")


def unknown_order_list() -> BinanceError:
    """-2011: cancel of an order list that does not exist or is no longer executing."""
    return BinanceError(-2011, "Unknown order list sent.")


def bad_api_key_format() -> BinanceError:
    """-2014: the API-key header is missing or malformed (HTTP 401)."""
    return BinanceError(-2014, "API-key format invalid.", 401)


def bad_api_key() -> BinanceError:
    """-2015: unknown API key (HTTP 401)."""
    return BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def bad_signature() -> BinanceError:
    """-1022: the HMAC signature does not match."""
    return BinanceError(-1022, "Signature for this request is not valid.")


def outside_recv_window() -> BinanceError:
    """-1021: the timestamp is older than ``recvWindow``."""
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> BinanceError:
    """-1021: the timestamp is more than 1 s ahead of the server's time."""
    return BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's "
                               "time.")


def recv_window_too_large() -> BinanceError:
    """-1131: ``recvWindow`` above 60 000 ms."""
    return BinanceError(-1131, "recvWindow must be less than 60000")
