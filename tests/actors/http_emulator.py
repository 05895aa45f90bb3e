"""A small threaded HTTP server for emulating venues in tests: routes, faults, request log.

:class:`HttpEmulator` serves registered handlers on ``127.0.0.1`` (a free port). Handlers get
a parsed :class:`Request` (query string and form body merged into ``params``) and return a
:class:`Reply`. A :class:`Fault` replaces the answer to chosen requests of a path (counted per
path, 1-based), and every request is logged with its answer's status, so a test can assert
exactly what the client did. Venue emulators (``exchange_emulator.BinanceSpotEmulator``)
subclass it and register their endpoints.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Request:
    """A parsed HTTP request as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """An HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        """A JSON answer."""
        return cls(status, json.dumps(payload).encode(),
                   {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str) -> Reply:
        """An HTML answer, as gateways and load balancers send on errors."""
        body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
        return cls(status, body, {"Content-Type": "text/html"})


@dataclass(frozen=True)
class Fault:
    """Answer requests ``nth`` .. ``nth + times - 1`` to ``path`` with ``reply`` instead.

    Requests are counted per path (all methods), starting at 1.
    """

    path: str
    nth: int
    reply: Reply
    times: int = 1
    label: str = "fault"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator saw it, and how it answered."""

    seq: int
    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: str | None


Handler = Callable[[Request], Reply]


class HttpEmulator:
    """Routes, faults and a request log behind a threaded HTTP server on 127.0.0.1.

    Args:
        now_ms: A fixed clock for the handlers (:meth:`now_ms`); None uses the wall clock.
    """

    def __init__(self, *, now_ms: int | None = None) -> None:
        self._now_ms = now_ms
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], Handler] = {}
        self._faults: list[Fault] = []
        self._counts: dict[str, int] = {}
        self._log: list[LoggedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        """Register (or replace) the handler of ``method path``."""
        self._routes[(method.upper(), path)] = handler

    def add_fault(self, fault: Fault) -> None:
        """Schedule a fault (see :class:`Fault`)."""
        with self._lock:
            self._faults.append(fault)

    def now_ms(self) -> int:
        """The emulator's current time in epoch ms."""
        return self._now_ms if self._now_ms is not None else int(time.time() * 1000)

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """Requests seen so far (optionally only those to ``path``), in arrival order."""
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpEmulator:
        """Start serving on a free loopback port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True, name=type(self).__name__)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dispatch(self, request: Request) -> Reply:
        """Answer one request: a scheduled fault, the route's handler, or an HTML 404."""
        with self._lock:
            count = self._counts[request.path] = self._counts.get(request.path, 0) + 1
            fault = next((f for f in self._faults if f.path == request.path
                          and f.nth <= count < f.nth + f.times), None)
        handler = self._routes.get((request.method, request.path))
        if fault is not None:
            reply = fault.reply
        elif handler is None:
            reply = Reply.html(404, "Not Found")
        else:
            reply = handler(request)
        with self._lock:
            self._log.append(LoggedRequest(len(self._log) + 1, request.method, request.path,
                                           request.params, reply.status,
                                           fault.label if fault else None))
        return reply


def _handler_class(emulator: HttpEmulator) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                params.update(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            request = Request(self.command, parts.path, params, dict(self.headers.items()))
            reply = emulator.dispatch(request)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silence the default stderr access log (the emulator keeps its own)."""

    return _Handler
