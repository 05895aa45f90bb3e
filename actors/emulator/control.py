"""Test and operator control of a running emulator: clock, faults, ledger, balances, log.

The Python objects here are what :class:`~actors.emulator.server.EmulatorServer` exposes
(``server.clock``, ``server.faults``, ``server.ledger``); :func:`handle_control` serves the
same over HTTP under ``/emulator/`` (JSON in and out, no signature, not rate limited, not
subject to faults):

=========================  =====================================================================
``GET /emulator/clock``    venue time, mode, per-symbol closed bars
``POST /emulator/clock``   ``{"advance_bars": n}``, ``{"advance_ms": ms}`` or ``{"to_ms": t}``
``GET /emulator/ledger``   balances, orders, order lists, trades, fault events
``GET /emulator/faults``   active rules (with counters) and fault events
``POST /emulator/faults``  a rule, a list of rules or ``{"faults": [...]}``; answers their ids
``DELETE /emulator/faults``  remove every rule
``POST /emulator/balances``  ``{"USDT": 1000.0}``: set free balances (deposit / withdrawal)
``GET /emulator/requests``  the request log (``?path=...`` to filter)
=========================  =====================================================================
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from actors.emulator.clock import VenueClock
from actors.emulator.faults import FaultEvent, FaultPlan, FaultRule, parse_rules
from actors.emulator.http import Reply, Request
from actors.emulator.orders import Order, Trade
from actors.emulator.venue import Venue
from core.errors import UsageError


@dataclass(frozen=True)
class LoggedRequest:
    """One API request as the emulator saw it, and how it answered.

    Attributes:
        seq: Arrival number, from 1.
        method: HTTP method.
        path: URL path.
        params: Parameters (without ``signature``).
        status: HTTP status answered (0: no answer, the connection was dropped or reset).
        fault: Kind of the fault injected into it, if any.
        venue_ms: Venue time at arrival.
        code: Binance error code of the answer, if it was an error.
    """

    seq: int
    method: str
    path: str
    params: dict[str, str]
    status: int
    fault: str | None
    venue_ms: int
    code: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


class ClockControl:
    """The venue clock, moved only through here so orders are matched as it moves.

    Args:
        clock: The venue clock.
        venue: The venue (matched after every move).
    """

    def __init__(self, clock: VenueClock, venue: Venue) -> None:
        self._clock, self._venue = clock, venue

    @property
    def speed(self) -> float:
        """Venue ms per wall ms (0 = manual)."""
        return self._clock.speed

    def now_ms(self) -> int:
        """Venue time."""
        return self._clock.now_ms()

    def advance_ms(self, delta_ms: int) -> int:
        """Move forward ``delta_ms`` and match; returns the new time."""
        with self._venue.lock:
            self._clock.advance_ms(delta_ms)
            return self._venue.sync()

    def to_ms(self, to_ms: int) -> int:
        """Move forward to ``to_ms`` and match; returns the new time."""
        with self._venue.lock:
            self._clock.set_ms(to_ms)
            return self._venue.sync()

    def advance_bars(self, bars: int = 1) -> int:
        """Move to the ``bars``-th next bar boundary (each closes one more bar)."""
        if bars < 1:
            raise ValueError(f"advance_bars needs bars >= 1, got {bars}")
        tf = self._venue.market.tf_ms
        return self.to_ms((self.now_ms() // tf + bars) * tf)

    def state(self) -> dict[str, Any]:
        """Venue time, mode and, per symbol, closed bars and the forming bar's open."""
        now = self.now_ms()
        market = self._venue.market
        bars = {}
        for series in market.series.values():
            closed = market.closed_count(series, now)
            bars[series.symbol] = {
                "closed": closed,
                "last_closed_open_ms": int(series.ts[closed - 1]) if closed else None,
                "forming_open_ms": int(series.ts[closed]) if closed < len(series) else None}
        return {"now_ms": now, "speed": self.speed, "manual": self._clock.manual,
                "timeframe": market.timeframe, "bars": bars}


class FaultControl:
    """Add and remove fault rules; read what fired.

    Args:
        plan: The active rules.
    """

    def __init__(self, plan: FaultPlan) -> None:
        self._plan = plan

    def add(self, rule: FaultRule | dict[str, Any]) -> int:
        """Activate a rule (a :class:`FaultRule` or its dict form); returns its id."""
        if not isinstance(rule, FaultRule):
            rule = parse_rules(rule, "fault rule")[0]
        return self._plan.add(rule)

    def clear(self) -> None:
        """Remove every rule."""
        self._plan.clear()

    def rules(self) -> list[dict[str, Any]]:
        """Active rules with ``seen`` / ``fired`` counters."""
        return self._plan.rules()

    def events(self) -> list[FaultEvent]:
        """Every firing so far."""
        return self._plan.events()


class LedgerView:
    """Read the venue's books (copies, taken after the venue caught up with its clock).

    Args:
        venue: The venue.
        plan: The fault rules (their events are part of the ledger's story).
    """

    def __init__(self, venue: Venue, plan: FaultPlan) -> None:
        self._venue, self._plan = venue, plan

    def orders(self, symbol: str | None = None) -> list[Order]:
        """Every order (of one ccxt symbol), by symbol and id."""
        with self._venue.lock:
            self._venue.sync()
            market_id = self._venue.market.by_symbol(symbol).market_id if symbol else None
            return [copy.deepcopy(o) for (s, _), o in sorted(self._venue.ledger.orders.items())
                    if market_id is None or s == market_id]

    def order(self, symbol: str, client_order_id: str) -> Order | None:
        """The newest order with ``client_order_id`` on ``symbol``."""
        with self._venue.lock:
            self._venue.sync()
            market_id = self._venue.market.by_symbol(symbol).market_id
            found = self._venue.ledger.find(market_id, None, client_order_id)
            return copy.deepcopy(found)

    def trades(self) -> list[Trade]:
        """Every trade in booking order."""
        with self._venue.lock:
            self._venue.sync()
            return [copy.deepcopy(t) for t in self._venue.ledger.trades]

    def balances(self) -> dict[str, tuple[float, float]]:
        """(free, locked) per asset."""
        with self._venue.lock:
            self._venue.sync()
            ledger = self._venue.ledger
            return {a: ledger.balance(a) for a in sorted(ledger.free)}

    def set_balance(self, asset: str, free: float) -> None:
        """Set ``asset``'s free balance (a deposit or withdrawal outside trading)."""
        if not free >= 0.0:
            raise ValueError(f"balance must be >= 0, got {free}")
        with self._venue.lock:
            self._venue.ledger.free[asset.upper()] = float(free)
            self._venue.ledger.locked.setdefault(asset.upper(), 0.0)

    def snapshot(self) -> dict[str, Any]:
        """Balances, orders, order lists, trades and fault events as JSON-ready data."""
        with self._venue.lock:
            now = self._venue.sync()
            body = self._venue.ledger.snapshot()
        body["now_ms"] = now
        body["faults"] = [e.to_json() for e in self._plan.events()]
        return body


def _payload(request: Request) -> Any:
    if not request.body.strip():
        return {}
    try:
        return json.loads(request.body)
    except ValueError:
        raise UsageError("the body must be JSON") from None


def handle_control(request: Request, clock: ClockControl, faults: FaultControl,
                   ledger: LedgerView, requests: list[LoggedRequest]) -> Reply:
    """Answer one ``/emulator/...`` request (see the module docstring)."""
    key = (request.method, request.path)
    try:
        if key == ("GET", "/emulator/clock"):
            return Reply.json(clock.state())
        if key == ("POST", "/emulator/clock"):
            body = _payload(request)
            if "advance_bars" in body:
                clock.advance_bars(int(body["advance_bars"]))
            elif "advance_ms" in body:
                clock.advance_ms(int(body["advance_ms"]))
            elif "to_ms" in body:
                clock.to_ms(int(body["to_ms"]))
            else:
                raise UsageError("expected advance_bars, advance_ms or to_ms")
            return Reply.json(clock.state())
        if key == ("GET", "/emulator/ledger"):
            return Reply.json(ledger.snapshot())
        if key == ("GET", "/emulator/faults"):
            return Reply.json({"rules": faults.rules(),
                               "events": [e.to_json() for e in faults.events()]})
        if key == ("POST", "/emulator/faults"):
            rules = parse_rules(_payload(request), "POST /emulator/faults")
            return Reply.json({"ids": [faults.add(rule) for rule in rules]})
        if key == ("DELETE", "/emulator/faults"):
            count = len(faults.rules())
            faults.clear()
            return Reply.json({"cleared": count})
        if key == ("POST", "/emulator/balances"):
            for asset, amount in dict(_payload(request)).items():
                ledger.set_balance(str(asset), float(amount))
            return Reply.json(ledger.snapshot()["balances"])
        if key == ("GET", "/emulator/requests"):
            path = request.params.get("path")
            return Reply.json([r.to_json() for r in requests if path in (None, r.path)])
    except (UsageError, ValueError, TypeError, KeyError) as exc:
        return Reply.json({"error": str(exc)}, 400)
    return Reply.json({"error": f"unknown control endpoint {request.method} {request.path}"},
                      404)
