"""A small threaded HTTP server: parsed requests in, replies (or dropped connections) out.

:class:`HttpServer` serves one dispatch function on a host and port (port 0 = a free one)
with the standard library's ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, one thread per
connection). A handler gets a :class:`Request` (query string and form body merged into
``params``, the raw texts kept for signature checks, header names lower-cased) and returns a
:class:`Reply`, which may also tell the server to hold the connection, close it without an
answer, or reset it: the network faults a venue client must survive.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

Action = Literal["send", "drop", "reset"]


@dataclass(frozen=True)
class Request:
    """A parsed HTTP request.

    Attributes:
        method: Upper-case HTTP method.
        path: URL path without the query string.
        params: Query string and form body parameters merged (body wins).
        headers: Request headers with lower-case names.
        query: The raw query string (what Binance signs, with the body).
        body: The raw request body text.
    """

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    body: str = ""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, or a connection fault.

    Attributes:
        status: HTTP status.
        body: Response body.
        headers: Response headers.
        action: ``send`` the answer, ``drop`` the connection without one (FIN), or
            ``reset`` it (RST).
        delay_s: Seconds to hold the connection before acting (a slow or hung venue).
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    action: Action = "send"
    delay_s: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
             ) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(),
                   {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str) -> Reply:
        """An HTML answer, as gateways and load balancers send on errors."""
        body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
        return cls(status, body, {"Content-Type": "text/html"})

    @classmethod
    def connection(cls, action: Action, delay_s: float = 0.0) -> Reply:
        """No answer: ``drop`` or ``reset`` the connection after ``delay_s``."""
        return cls(0, b"", {}, action, delay_s)

    def with_headers(self, headers: dict[str, str]) -> Reply:
        """The same reply with more headers."""
        return replace(self, headers={**self.headers, **headers})

    def json_body(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


Dispatch = Callable[[Request], Reply]


class HttpServer:
    """Serve ``dispatch`` over HTTP on a background thread.

    Args:
        dispatch: Answers every request.
        host: Interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
    """

    def __init__(self, dispatch: Dispatch, host: str = "127.0.0.1", port: int = 0) -> None:
        self._dispatch = dispatch
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Bind and serve in a daemon thread.

        Raises:
            OSError: If the address cannot be bound.
        """
        self.stopping.clear()
        self._server = ThreadingHTTPServer(self._address, _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="emulator-http")
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release held connections and the port."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def answer(self, request: Request) -> Reply:
        """Run the dispatch function (used by the request handler)."""
        return self._dispatch(request)


def _handler_class(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "evotrader-emulator"
        sys_version = ""
        # Headers and body leave in two writes on a kept-alive connection: with Nagle's
        # algorithm the body waits for the client's delayed ACK (~40 ms per request).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = server.answer(Request(self.command, parts.path, params, headers,
                                          parts.query, body))
            if reply.delay_s > 0 and server.stopping.wait(reply.delay_s):
                reply = Reply.connection("drop")
            if reply.action != "send":
                self._close(reply.action)
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def _close(self, action: Action) -> None:
            self.close_connection = True
            try:
                if action == "reset":  # SO_LINGER 0: closing sends RST instead of FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                else:
                    self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silence the default stderr access log (the emulator keeps its own)."""

    return _Handler
