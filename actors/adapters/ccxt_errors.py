"""The ccxt boundary: create exchanges and translate ccxt exceptions into project errors.

Mapping (most specific first; ccxt's hierarchy makes the order matter, e.g.
``RateLimitExceeded`` and ``DDoSProtection`` are ``NetworkError`` subclasses and
``OnMaintenance`` is an ``ExchangeNotAvailable``):

==========================================================  ==========================
ccxt                                                        project
==========================================================  ==========================
RateLimitExceeded, DDoSProtection (HTTP 429/418)            RateLimitError
OnMaintenance, ExchangeNotAvailable, RequestTimeout,        TemporaryExchangeError
NetworkError (incl. InvalidNonce), other OperationFailed
(BadResponse, NullResponse, CancelPending)
BadSymbol, AuthenticationError, PermissionDenied,           PermanentExchangeError
InvalidOrder, BadRequest, any other ExchangeError/BaseError
==========================================================  ==========================

The venue's own error code refines the class (Binance's code table, checked first, one
ordered table :data:`VENUE_CODES`): ccxt maps a filter failure (-1013) to a generic
``BadRequest``, has no class for "Duplicate order sent." (-2010), and raises ``ExchangeError``
or a network error for -1006/-1007 ("execution status unknown"), which means the order may
exist. The translated error carries ``venue_code`` and ``venue_message``; an
:class:`~core.errors.OrderRejectedError` carries a stable ``reason`` code.

==================================================  ==========================================
Binance code and message                            project
==================================================  ==========================================
-1006, -1007 (execution status unknown)             OrderOutcomeUnknownError
-1021 (timestamp outside recvWindow)                VenueClockError
-1003, -1015 (too many requests / orders)           RateLimitError
-2013, -2011 (order does not exist / unknown)       OrderNotFoundError
-2010 "Duplicate order sent."                       DuplicateOrderError
-2010 "... insufficient balance ..."                OrderRejectedError ``insufficient_balance``
-1013 "Filter failure: X"                           OrderRejectedError ``filter_failure_x``
-2010 "Stop price would trigger immediately."       OrderRejectedError ``would_trigger_immediately``
-2010 other, -1111, -1116, -1117, -1013 other       OrderRejectedError ``venue_rejected`` / ...
==================================================  ==========================================

One refinement: ccxt raises the generic ``ExchangeError`` for an error body it has no
specific class for, even on a 5xx answer (Binance's ``503 {"code": -1008, "msg": "Server is
currently overloaded..."}``). A server-side failure is temporary, so when the exchange was
set up with :func:`record_http_status` and the answer was 5xx, that generic error maps to
``TemporaryExchangeError``.

Messages keep the exchange's text but never carry credentials: query parameters and JSON
fields that can hold keys, secrets or signatures are redacted, and so is every credential
value set on the exchange object.

:func:`make_exchange` builds exchanges wired for this translation (it records HTTP statuses)
and can point them at a local emulator (``api_url``); ``actors.adapters.ccxt_ohlcv``
re-exports it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt

from core.errors import (
    DuplicateOrderError,
    ExchangeError,
    OrderNotFoundError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    PermanentExchangeError,
    RateLimitError,
    TemporaryExchangeError,
    UsageError,
    VenueClockError,
)

REDACTED = "<redacted>"
_SECRET_NAMES = (
    r"signature|sign|api[_-]?key|apikey|x-mbx-apikey|secret|api[_-]?secret|secret[_-]?key|"
    r"passphrase|password|token|access[_-]?token|access[_-]?key|private[_-]?key|listenkey"
)
_QUERY_SECRET = re.compile(rf"(?i)\b({_SECRET_NAMES})=([^&\s\"'#]+)")
_JSON_SECRET = re.compile(rf"(?i)(\"(?:{_SECRET_NAMES})\"\s*:\s*)\"[^\"]*\"")
_CREDENTIAL_ATTRIBUTES = ("apiKey", "secret", "password", "uid", "privateKey", "token", "login")

# (ccxt class, project class), checked in order: subclasses before their bases.
_MAPPING: tuple[tuple[type[BaseException], type[ExchangeError]], ...] = (
    (ccxt.RateLimitExceeded, RateLimitError),
    (ccxt.DDoSProtection, RateLimitError),
    (ccxt.OnMaintenance, TemporaryExchangeError),
    (ccxt.ExchangeNotAvailable, TemporaryExchangeError),
    (ccxt.RequestTimeout, TemporaryExchangeError),
    (ccxt.NetworkError, TemporaryExchangeError),
    (ccxt.OperationFailed, TemporaryExchangeError),
    (ccxt.BadSymbol, PermanentExchangeError),
    (ccxt.AuthenticationError, PermanentExchangeError),
    (ccxt.InvalidOrder, PermanentExchangeError),
    (ccxt.BadRequest, PermanentExchangeError),
    (ccxt.ExchangeError, PermanentExchangeError),
    (ccxt.BaseError, PermanentExchangeError),
)


# (code, message pattern or None, project class, reject reason), checked in order.
VENUE_CODES: tuple[tuple[int, re.Pattern[str] | None, type[ExchangeError], str], ...] = (
    (-1006, None, OrderOutcomeUnknownError, ""),
    (-1007, None, OrderOutcomeUnknownError, ""),
    (-1021, None, VenueClockError, ""),
    (-1003, None, RateLimitError, ""),
    (-1015, None, RateLimitError, ""),
    (-2013, None, OrderNotFoundError, ""),
    (-2011, re.compile(r"(?i)unknown order"), OrderNotFoundError, ""),
    (-2010, re.compile(r"(?i)duplicate order"), DuplicateOrderError, ""),
    (-2010, re.compile(r"(?i)insufficient balance"), OrderRejectedError, "insufficient_balance"),
    (-1013, re.compile(r"(?i)filter failure"), OrderRejectedError, "filter_failure"),
    (-2010, re.compile(r"(?i)would trigger immediately"), OrderRejectedError,
     "would_trigger_immediately"),
    (-2010, None, OrderRejectedError, "venue_rejected"),
    (-2011, None, OrderRejectedError, "cancel_rejected"),
    (-1111, None, OrderRejectedError, "bad_precision"),
    (-1116, None, OrderRejectedError, "bad_order_type"),
    (-1117, None, OrderRejectedError, "bad_side"),
    (-1013, None, OrderRejectedError, "venue_rejected"),
)
_CODE_IN_TEXT = re.compile(r'"code"\s*:\s*(-?\d+)')
_MSG_IN_TEXT = re.compile(r'"msg"\s*:\s*"((?:[^"\\]|\\.)*)"')


def venue_error_code(exc: BaseException, exchange: Any = None) -> tuple[int | None, str]:
    """The venue's error code and message behind a ccxt exception, when it gave one."""
    body = getattr(exchange, "last_json_response", None)
    if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] < 0:
        return int(body["code"]), str(body.get("msg", ""))
    raw = getattr(exchange, "last_http_response", None)
    text = f"{raw if isinstance(raw, str) else ''} {exc}"
    code = _CODE_IN_TEXT.search(text)
    if code is None:
        return None, ""
    msg = _MSG_IN_TEXT.search(text)
    return int(code.group(1)), msg.group(1) if msg else ""


def _by_venue_code(code: int | None, message: str) -> tuple[type[ExchangeError], str] | None:
    if code is None:
        return None
    for known, pattern, project_class, reason in VENUE_CODES:
        if known == code and (pattern is None or pattern.search(message)):
            if reason == "filter_failure":
                name = re.search(r"(?i)filter failure:\s*([A-Z_]+)", message)
                reason = f"filter_failure_{name.group(1).lower()}" if name else reason
            return project_class, reason
    return None


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove anything that could be a credential from ``text``.

    Args:
        text: A message, URL or response body.
        secrets: Exact credential values to replace wherever they appear.
    """
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, REDACTED)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)


def _credentials(exchange: Any) -> tuple[str, ...]:
    values = (getattr(exchange, name, None) for name in _CREDENTIAL_ATTRIBUTES)
    return tuple(v for v in values if isinstance(v, str) and v)


def _retry_after_s(exchange: Any) -> float | None:
    """Seconds from the last response's ``Retry-After`` header, when it is a number."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def record_http_status(exchange: Any) -> None:
    """Make ``exchange`` remember the HTTP status of its last answer in ``last_http_status``.

    Uses ccxt's ``on_rest_response`` hook, which every REST answer passes through.
    """
    original = exchange.on_rest_response

    def on_rest_response(code: Any, *args: Any) -> Any:
        exchange.last_http_status = int(code)
        return original(code, *args)

    exchange.on_rest_response = on_rest_response
    exchange.last_http_status = None


def _is_server_failure(exc: BaseException, exchange: Any) -> bool:
    status = getattr(exchange, "last_http_status", None)
    return type(exc) is ccxt.ExchangeError and isinstance(status, int) and status >= 500


def translate(exc: BaseException, *, context: str = "", exchange: Any = None) -> ExchangeError:
    """Return the project error for a ccxt exception.

    Raise it ``from None``: the original ccxt message is not redacted and must not reach a log.

    Args:
        exc: The ccxt exception.
        context: What was being done, e.g. ``"fetch_ohlcv BTC/USDT 1h"``; prefixes the message.
        exchange: The ccxt exchange, used to redact its credentials and to read the
            ``Retry-After`` header of a rate-limit answer into ``retry_after_s``.
    """
    target: type[ExchangeError] = PermanentExchangeError
    for ccxt_class, project_class in _MAPPING:
        if isinstance(exc, ccxt_class):
            target = project_class
            break
    if target is PermanentExchangeError and _is_server_failure(exc, exchange):
        target = TemporaryExchangeError
    code, message = venue_error_code(exc, exchange)
    by_code = _by_venue_code(code, message)
    if by_code is not None:
        target = by_code[0]
    text = scrub(str(exc), _credentials(exchange)).strip() or "no message"
    prefix = f"{context}: " if context else ""
    error = target(f"{prefix}{type(exc).__name__}: {text}")
    error.ccxt_class = type(exc).__name__  # type: ignore[attr-defined]
    error.venue_code = code  # type: ignore[attr-defined]
    error.venue_message = scrub(message, _credentials(exchange))  # type: ignore[attr-defined]
    if by_code is not None and by_code[1]:
        error.reason = by_code[1]  # type: ignore[attr-defined]
    if target is RateLimitError and exchange is not None:
        error.retry_after_s = _retry_after_s(exchange)  # type: ignore[attr-defined]
    return error


@contextlib.contextmanager
def ccxt_errors(context: str = "", *, exchange: Any = None) -> Iterator[None]:
    """Context manager (also usable as a decorator) translating ccxt exceptions.

    Example:
        >>> with ccxt_errors("load_markets", exchange=exchange):  # doctest: +SKIP
        ...     exchange.load_markets()

    Raises:
        RateLimitError, TemporaryExchangeError, PermanentExchangeError: See the module table.
    """
    if exchange is not None and hasattr(exchange, "last_http_status"):
        exchange.last_http_status = None  # only the answers inside this block count
    if exchange is not None and hasattr(exchange, "last_json_response"):
        exchange.last_json_response = None
        exchange.last_http_response = None
    try:
        yield
    except ccxt.BaseError as exc:
        raise translate(exc, context=context, exchange=exchange) from None


def _rewrite_urls(value: Any, base: tuple[str, str, str]) -> Any:
    """Point every URL in a (nested) ccxt ``urls['api']`` value at ``base`` host and prefix."""
    if isinstance(value, dict):
        return {key: _rewrite_urls(item, base) for key, item in value.items()}
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        return urlunsplit((base[0], base[1], base[2] + parts.path, parts.query, parts.fragment))
    return value


def make_exchange(
    exchange_id: str,
    *,
    api_url: str | None = None,
    timeout_ms: int = 10_000,
    rate_limit: bool = True,
    rate_limit_ms: int | None = None,
    market_types: Sequence[str] | None = None,
) -> ccxt.Exchange:
    """Create a ccxt exchange for public market data.

    Args:
        exchange_id: ccxt id such as ``"binance"``.
        api_url: When given (``http://127.0.0.1:8080``), every URL in ``urls['api']`` is
            rewritten to this scheme and host (its path, if any, prefixes the original path).
        timeout_ms: HTTP timeout per request.
        rate_limit: Enable ccxt's throttle, which spaces requests by the venue's rate limit.
        rate_limit_ms: Override the venue's ``rateLimit`` (ms per unit of request cost).
        market_types: For binance, the market types ``load_markets`` fetches; defaults to
            ``("spot",)`` when ``api_url`` is given, so only ``/api/v3/exchangeInfo`` is hit.

    Raises:
        UsageError: For an unknown exchange id (with suggestions) or a malformed ``api_url``.
    """
    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UsageError(f"unknown exchange id {exchange_id!r}{hint}")
    config: dict[str, Any] = {"enableRateLimit": rate_limit, "timeout": timeout_ms}
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = getattr(ccxt, exchange_id)(config)
    record_http_status(exchange)
    if api_url is not None:
        base = urlsplit(api_url)
        if base.scheme not in ("http", "https") or not base.netloc:
            raise UsageError(f"malformed --api-url {api_url!r}; expected http://HOST:PORT")
        exchange.urls["api"] = _rewrite_urls(
            exchange.urls["api"], (base.scheme, base.netloc, base.path.rstrip("/"))
        )
        market_types = market_types or ("spot",)
    if exchange_id == "binance" and market_types:
        exchange.options["fetchMarkets"] = {"types": list(market_types)}
        exchange.options["fetchCurrencies"] = False
        exchange.options["fetchMargins"] = False
    return exchange
