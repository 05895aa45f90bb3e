"""The emulator as a server: the request pipeline and the Python handle tests use.

Every ``/api/...`` request goes through, in order:

1. the rate limiter (418 while banned, 429 over the weight or order limits);
2. the fault rules (:mod:`actors.emulator.faults`): an answer replaced, the connection held,
   dropped or reset, the request processed first or not, an order's fills changed, or the
   clock it sees skewed;
3. signature checks for SIGNED endpoints (:mod:`actors.emulator.signing`);
4. the venue catching up with its clock, then the handler.

Each is logged (:meth:`EmulatorServer.requests`), every injected fault also as a fault event
in the ledger. ``/emulator/...`` is the control API (:mod:`actors.emulator.control`).

Example::

    config = EmulatorConfig(data_dir=Path("../shared/data"), symbols=("BTC/USDT",))
    with EmulatorServer(config) as emulator:        # started on 127.0.0.1, a free port
        exchange = make_exchange("binance", api_url=emulator.url)  # + apiKey, secret
        emulator.clock.advance_bars(1)
        emulator.faults.add(FaultRule(kind="drop_after_accept"))
        emulator.ledger.orders("BTC/USDT")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from actors.emulator import public_api, trading_api
from actors.emulator.clock import VenueClock
from actors.emulator.config import EmulatorConfig
from actors.emulator.control import (
    ClockControl,
    FaultControl,
    LedgerView,
    LoggedRequest,
    handle_control,
)
from actors.emulator.errors import BinanceError
from actors.emulator.faults import FaultEvent, FaultPlan, FaultRule
from actors.emulator.http import HttpServer, Reply, Request
from actors.emulator.market import Market
from actors.emulator.params import Params
from actors.emulator.ratelimits import RateLimiter
from actors.emulator.routes import Call, Routes
from actors.emulator.signing import Verifier
from actors.emulator.venue import NO_EFFECTS, OrderEffects, Venue
from core.data.candles import Candles
from core.data.timeframes import TIMEFRAME_MS

UNKNOWN_STATUS_MSG = {
    -1006: "An unexpected response was received from the message bus. Execution status "
           "unknown.",
    -1007: "Timeout waiting for response from backend server. Send status unknown; execution "
           "status unknown.",
}
_GATEWAY_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Time-out"}
_PROCESSING_KINDS = frozenset({"http_5xx", "timeout", "unknown_status"})


def load_market(config: EmulatorConfig, candles: Mapping[str, Candles] | None = None) -> Market:
    """The replayed market: ``candles`` if given, else the config's symbols from its data.

    Raises:
        DataNotFoundError: If a series is missing (the message lists what is stored).
        UsageError: Without candles, data folder or symbols.
    """
    from core.errors import UsageError

    if candles is None:
        if config.data_dir is None or not config.symbols:
            raise UsageError("the emulator needs candles: a data folder and symbols")
        from actors.adapters.data_source import load_candles

        candles = {symbol: load_candles(config.data_dir, venue=config.data_venue,
                                        symbol=symbol, timeframe=config.timeframe)
                   for symbol in config.symbols}
    return Market(candles, config.timeframe, TIMEFRAME_MS[config.timeframe])


class EmulatorServer:
    """A Binance spot emulator over HTTP (see the module docstring).

    Args:
        config: The configuration.
        candles: Bars per ccxt symbol; None loads ``config.symbols`` from ``config.data_dir``.
        host: Interface to bind.
        port: TCP port (0 = a free one).
        wall: Wall clock in seconds (rate-limit windows, the ``wall`` timestamp check).
        monotonic: Monotonic clock in seconds (a paced venue clock).
    """

    def __init__(self, config: EmulatorConfig, candles: Mapping[str, Candles] | None = None,
                 *, host: str = "127.0.0.1", port: int = 0,
                 wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        market = load_market(config, candles)
        start = config.start_ms if config.start_ms is not None else \
            market.default_start_ms(config.warmup_bars)
        venue_clock = VenueClock(start, config.speed, monotonic)
        self.venue = Venue(config, market, venue_clock)
        self._plan = FaultPlan(config.seed)
        for rule in config.faults:
            self._plan.add(rule)
        self.clock = ClockControl(venue_clock, self.venue)
        self.faults = FaultControl(self._plan)
        self.ledger = LedgerView(self.venue, self._plan)
        self.limiter = RateLimiter(config.rate_limits, wall)
        self._wall = wall
        self._verifier = Verifier(config.api_key, config.api_secret)
        self._routes = Routes()
        public_api.register(self._routes)
        trading_api.register(self._routes)
        self._log_lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._http = HttpServer(self._dispatch, host, port)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Start serving; returns self."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving (held connections are dropped) and release the port."""
        self._http.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return self._http.url

    # --- inspection and overrides ----------------------------------------------------------

    def requests(self, path: str | None = None) -> list[LoggedRequest]:
        """API requests seen so far (optionally only to ``path``), in arrival order."""
        with self._log_lock:
            return [r for r in self._log if path is None or r.path == path]

    def route(self, method: str, path: str, handler: Callable[[Request], Any]) -> None:
        """Replace the handler of an endpoint with ``handler(request) -> Reply or payload``."""
        self._routes.replace_handler(method, path, lambda call: handler(call.request))

    def add_fault(self, rule: FaultRule | dict[str, Any]) -> int:
        """Shorthand for ``faults.add``."""
        return self.faults.add(rule)

    # --- the pipeline ----------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Reply:
        if request.path.startswith("/emulator/"):
            with self._log_lock:
                log = list(self._log)
            return handle_control(request, self.clock, self.faults, self.ledger, log)
        venue_ms = self.clock.now_ms()
        with self._log_lock:
            seq = len(self._log) + 1
            self._log.append(LoggedRequest(seq, request.method, request.path, {}, 0, None,
                                           venue_ms))  # placeholder keeps seq order
        fault: tuple[int, FaultRule] | None = None
        try:
            headers = self.limiter.admit(request.method, request.path, request.params)
            fault = self._plan.pick(request.method, request.path)
            reply = self._answer(request, seq, venue_ms, fault).with_headers(headers)
        except BinanceError as error:
            reply = _error_reply(error)
        body = reply.json_body() if reply.action == "send" else None
        code = body.get("code") if isinstance(body, dict) else None
        params = {k: v for k, v in request.params.items() if k != "signature"}
        with self._log_lock:
            self._log[seq - 1] = LoggedRequest(
                seq, request.method, request.path, params,
                reply.status if reply.action == "send" else 0,
                fault[1].kind if fault else None, venue_ms, code)
        return reply

    def _answer(self, request: Request, seq: int, venue_ms: int,
                fault: tuple[int, FaultRule] | None) -> Reply:
        if fault is None:
            return self._handle(request, venue_ms, 0, NO_EFFECTS)[0]
        rule_id, rule = fault
        kind = rule.kind

        def record(processed: bool | None, detail: str = "") -> None:
            self._plan.record(FaultEvent(seq, rule_id, kind, request.method, request.path,
                                         venue_ms, processed, detail))

        if kind == "clock_skew":
            record(None, f"skew {rule.skew_ms} ms")
            return self._handle(request, venue_ms, rule.skew_ms, NO_EFFECTS)[0]
        if kind in ("partial_fill", "delayed_fill"):
            effects = OrderEffects(fraction=rule.fraction) if kind == "partial_fill" else \
                OrderEffects(delayed=True)
            reply, detail = self._handle(request, venue_ms, 0, effects)
            record(True, detail)
            return reply
        if kind == "connection_reset":
            record(False)
            return Reply.connection("reset")
        if kind == "http_429":
            record(False)
            return _error_reply(BinanceError(
                -1003, "Too many requests; current limit is "
                       f"{self.config.rate_limits.weight_per_minute} request weight per 1 "
                       "MINUTE.", 429, {"Retry-After": str(rule.retry_after_s)}))
        if kind == "reject":
            record(False, f"code {rule.code or -2010}")
            return _error_reply(BinanceError(
                rule.code or -2010, rule.msg or "Account has insufficient balance for "
                                                "requested action.", rule.status or 400))
        processed = kind == "drop_after_accept" or (kind in _PROCESSING_KINDS and rule.processed)
        detail = self._handle(request, venue_ms, 0, NO_EFFECTS)[1] if processed else ""
        record(processed, detail)
        if kind in ("drop_after_accept", "timeout"):
            return Reply.connection("drop", rule.hold_s if kind == "timeout" else 0.0)
        if kind == "unknown_status":
            code = rule.code if rule.code in UNKNOWN_STATUS_MSG else -1007
            return _error_reply(BinanceError(code, rule.msg or UNKNOWN_STATUS_MSG[code],
                                             rule.status or 500))
        return _gateway_reply(rule)

    def _handle(self, request: Request, venue_ms: int, skew_ms: int, effects: OrderEffects
                ) -> tuple[Reply, str]:
        """Run the route: signature check, catch-up, handler; (reply, what it did)."""
        route = self._routes.get(request.method, request.path)
        if route is None:
            return Reply.html(404, "Not Found"), "not found"
        try:
            if route.signed:
                self._verifier.verify(request, self._server_ms(venue_ms, skew_ms))
            now = self.venue.sync()
            call = Call(request, Params(request.params), self.venue, now, now + skew_ms,
                        effects)
            payload = route.handler(call)
        except BinanceError as error:
            return _error_reply(error), f"error {error.code}"
        except Exception as exc:  # noqa: BLE001 - an emulator bug must not kill the thread
            return _error_reply(BinanceError(
                -1000, f"An unknown error occurred while processing the request. "
                       f"({type(exc).__name__})", 500)), f"internal error {type(exc).__name__}"
        if isinstance(payload, Reply):
            return payload, f"status {payload.status}"
        return Reply.json(payload), _describe(payload)

    def _server_ms(self, venue_ms: int, skew_ms: int) -> int | None:
        check = self.config.timestamp_check
        if check == "off":
            return None
        base = venue_ms if check == "venue" else int(self._wall() * 1000)
        return base + skew_ms


def _error_reply(error: BinanceError) -> Reply:
    return Reply.json(error.body(), error.status, error.headers)


def _gateway_reply(rule: FaultRule) -> Reply:
    status = rule.status or 502
    if status == 503 and rule.overloaded:
        return _error_reply(BinanceError(-1008, "Server is currently overloaded with other "
                                                "requests. Please try again in a few "
                                                "minutes.", 503))
    if status == 500:
        return _error_reply(BinanceError(-1001, "Internal error; unable to process your "
                                                "request. Please try again.", 500))
    return Reply.html(status, _GATEWAY_TEXT[status])


def _describe(payload: Any) -> str:
    """What a processed request did, for fault events: the order it placed, if any."""
    if isinstance(payload, dict) and "orderId" in payload:
        return (f"orderId={payload['orderId']} clientOrderId={payload.get('clientOrderId')} "
                f"status={payload.get('status', 'ACK')}")
    if isinstance(payload, dict) and "orderListId" in payload:
        return f"orderListId={payload['orderListId']}"
    return "processed"
