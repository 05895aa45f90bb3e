"""Binance's request signing: API key header, HMAC-SHA256 over the total params, recvWindow.

Binance signs ``totalParams`` = the query string concatenated with the request body (no
separator), without the ``signature`` parameter itself; the signature is the hex HMAC-SHA256
of that text keyed by the API secret. A request is refused:

- without an ``X-MBX-APIKEY`` header (-2014) or with an unknown key (-2015), both HTTP 401;
- without ``timestamp`` (-1102); with ``recvWindow`` above 60000 (-1131);
- with a timestamp more than 1 s ahead of the server's time, or older than ``recvWindow``
  (default 5000 ms) (-1021);
- without ``signature`` (-1102) or with a wrong one (-1022).

Error messages never contain the key, the secret or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from actors.emulator.errors import (
    ahead_of_server,
    bad_api_key,
    bad_api_key_format,
    bad_signature,
    illegal,
    mandatory,
    outside_recv_window,
    recv_window_too_large,
)
from actors.emulator.http import Request

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000
_SIGNATURE = re.compile(r"(^|&)signature=[^&]*")
_INT = re.compile(r"^[0-9]{1,20}$")


def unsigned_text(raw: str) -> str:
    """``raw`` (a query string or body) without its ``signature=...`` parameter."""
    return _SIGNATURE.sub("", raw).lstrip("&")


def total_params(request: Request) -> str:
    """What Binance signs: query string + body, each without the signature parameter."""
    return unsigned_text(request.query) + unsigned_text(request.body)


def sign(text: str, secret: str) -> str:
    """Hex HMAC-SHA256 of ``text`` keyed by ``secret``."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Verifier:
    """Checks signed requests against one API key.

    Args:
        api_key: The accepted key.
        api_secret: Its secret.
    """

    def __init__(self, api_key: str, api_secret: str) -> None:
        self._key = api_key
        self._secret = api_secret

    def __repr__(self) -> str:
        return "Verifier(<redacted>)"

    def check_key(self, request: Request) -> None:
        """The ``X-MBX-APIKEY`` header (also all an API-key-only endpoint needs).

        Raises:
            BinanceError: -2014 or -2015.
        """
        key = request.headers.get("x-mbx-apikey")
        if not key:
            raise bad_api_key_format()
        if not hmac.compare_digest(key.encode(), self._key.encode()):
            raise bad_api_key()

    def verify(self, request: Request, server_ms: int | None) -> None:
        """Key, timestamp and signature of a SIGNED request.

        Args:
            request: The request.
            server_ms: The server's time for the window check; None skips it.

        Raises:
            BinanceError: With Binance's code (see the module docstring).
        """
        self.check_key(request)
        params = request.params
        stamp = params.get("timestamp") or None
        if stamp is None:
            raise mandatory("timestamp")
        if not _INT.match(stamp):
            raise illegal("timestamp", "^[0-9]{1,20}$")
        window_text = params.get("recvWindow") or None
        window = DEFAULT_RECV_WINDOW_MS
        if window_text is not None:
            if not _INT.match(window_text):
                raise illegal("recvWindow", "^[0-9]{1,20}$")
            window = int(window_text)
            if window > MAX_RECV_WINDOW_MS:
                raise recv_window_too_large()
        if server_ms is not None:
            timestamp = int(stamp)
            if timestamp >= server_ms + 1000:
                raise ahead_of_server()
            if server_ms - timestamp > window:
                raise outside_recv_window()
        signature = params.get("signature") or None
        if signature is None:
            raise mandatory("signature")
        expected = sign(total_params(request), self._secret)
        if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
            raise bad_signature()
