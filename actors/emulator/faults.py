"""Fault injection: seeded, deterministic rules that change how chosen requests are answered.

A :class:`FaultRule` matches requests by endpoint (``fnmatch`` pattern on the path) and
method, then fires on chosen occurrences:

- ``nth`` an int: the n-th matching request (1-based) and, with ``count`` > 1, the ones right
  after it; ``nth`` a list: exactly those occurrences;
- ``probability`` < 1: each eligible matching request fires with that probability, drawn
  from a generator seeded by (seed, rule id), so the same requests give the same faults;
- ``count`` caps the firings (default: 1 with an int ``nth``, the list's length with a
  list, unlimited otherwise).

Kinds (what the emulator does when a rule fires):

=====================  =====================================================================
``http_429``           HTTP 429, code -1003, ``Retry-After: retry_after_s``; not processed
``http_5xx``           ``status`` 502/504 (HTML, as the CDN sends) or 503 (HTML, or JSON
                       -1008 "overloaded" with ``overloaded``); processed first if
                       ``processed``
``timeout``            held ``hold_s`` seconds, then closed without an answer; the request
                       is processed first if ``processed``
``drop_after_accept``  processed and recorded, then the connection closes with no answer
``connection_reset``   the connection is reset before anything is processed
``partial_fill``       the order fills ``fraction`` of its quantity at its first fill; the
                       rest at the next bar
``reject``             answered ``status`` (400) with ``code`` (-2010) and ``msg``; not
                       processed
``delayed_fill``       a market order is answered NEW and fills at the next bar's open
``clock_skew``         this request sees venue time shifted by ``skew_ms`` (``time`` and
                       the ``recvWindow`` check)
``unknown_status``     HTTP ``status`` (500) with code -1006/-1007 "execution status
                       unknown"; processed first if ``processed``
=====================  =====================================================================

Every firing is recorded as a :class:`FaultEvent`.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, ValidationError, model_validator

from configs.base import StrictModel
from core.errors import UsageError

FaultKind = Literal["http_429", "http_5xx", "timeout", "drop_after_accept", "connection_reset",
                    "partial_fill", "reject", "delayed_fill", "clock_skew", "unknown_status"]
ORDER_KINDS = frozenset({"partial_fill", "delayed_fill", "drop_after_accept"})
"""Kinds whose endpoint defaults to ``POST /api/v3/order``."""


class FaultRule(StrictModel):
    """One fault rule (see the module docstring)."""

    kind: FaultKind = Field(description="What happens when the rule fires.")
    endpoint: str | None = Field(None, min_length=1, description="fnmatch pattern on the "
                                 "path; default /api/v3/order for order kinds, else '*'.")
    method: str | None = Field(None, description="HTTP method; default: POST for order "
                                                 "kinds, else any.")
    nth: int | tuple[int, ...] | None = Field(None, description="Occurrence(s), 1-based.")
    probability: float = Field(1.0, ge=0.0, le=1.0, description="Chance of firing.")
    count: int | None = Field(None, ge=1, description="Most firings.")
    retry_after_s: int = Field(1, ge=0, le=86_400, description="http_429: Retry-After.")
    status: int | None = Field(None, ge=200, le=599, description="HTTP status to answer.")
    overloaded: bool = Field(False, description="http_5xx 503: Binance's JSON -1008 body.")
    code: int | None = Field(None, description="reject / unknown_status: Binance code.")
    msg: str | None = Field(None, description="reject / unknown_status: message.")
    hold_s: float = Field(30.0, ge=0.0, le=3600.0, description="timeout: seconds held.")
    processed: bool = Field(False, description="timeout, http_5xx, unknown_status: process "
                                               "the request before failing.")
    fraction: float = Field(0.5, gt=0.0, lt=1.0, description="partial_fill: share filled "
                                                             "first.")
    skew_ms: int = Field(0, description="clock_skew: offset added to venue time, ms.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        nth = self.nth
        if isinstance(nth, int) and nth < 1 or isinstance(nth, tuple) and (
                not nth or min(nth) < 1):
            raise ValueError("nth must be >= 1 (or a non-empty list of such)")
        if self.kind == "http_5xx" and self.status not in (None, 500, 502, 503, 504):
            raise ValueError("http_5xx status must be 500, 502, 503 or 504")
        return self

    @property
    def path_pattern(self) -> str:
        """The endpoint pattern, defaulted by kind."""
        if self.endpoint is not None:
            return self.endpoint
        return "/api/v3/order" if self.kind in ORDER_KINDS else "*"

    @property
    def method_filter(self) -> str | None:
        """The method matched, defaulted by kind."""
        if self.method is not None:
            return self.method.upper()
        return "POST" if self.kind in ORDER_KINDS and self.endpoint is None else None

    @property
    def max_firings(self) -> int | None:
        """The cap on firings (see the module docstring)."""
        if self.count is not None:
            return self.count
        if isinstance(self.nth, int):
            return 1
        if isinstance(self.nth, tuple):
            return len(self.nth)
        return None

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to a request."""
        wanted = self.method_filter
        return (wanted is None or wanted == method) and fnmatch.fnmatchcase(
            path, self.path_pattern)


@dataclass(frozen=True)
class FaultEvent:
    """One firing of a rule.

    Attributes:
        seq: Sequence number of the request it hit (see the request log).
        rule_id: The rule's id.
        kind: The rule's kind.
        method: Request method.
        path: Request path.
        venue_ms: Venue time of the request.
        processed: Whether the request was processed despite the fault (None: not applicable).
        detail: What happened, e.g. the order affected.
    """

    seq: int
    rule_id: int
    kind: str
    method: str
    path: str
    venue_ms: int
    processed: bool | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class _Active:
    rule_id: int
    rule: FaultRule
    rng: random.Random
    seen: int = 0
    fired: int = 0


class FaultPlan:
    """The active rules and what they did; thread-safe.

    Args:
        seed: Seed of the probability draws.
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed = int(seed)
        self._lock = threading.Lock()
        self._rules: list[_Active] = []
        self._next_id = 1
        self._events: list[FaultEvent] = []

    def add(self, rule: FaultRule) -> int:
        """Activate a rule; returns its id."""
        with self._lock:
            rule_id = self._next_id
            self._next_id += 1
            self._rules.append(_Active(rule_id, rule,
                                       random.Random(self._seed * 1_000_003 + rule_id)))
            return rule_id

    def clear(self) -> None:
        """Remove every rule (the events stay)."""
        with self._lock:
            self._rules.clear()

    def pick(self, method: str, path: str) -> tuple[int, FaultRule] | None:
        """The rule firing for this request, if any (every matching rule counts it)."""
        chosen: tuple[int, FaultRule] | None = None
        with self._lock:
            for active in self._rules:
                if not active.rule.matches(method, path):
                    continue
                active.seen += 1
                if chosen is None and self._fires(active):
                    active.fired += 1
                    chosen = (active.rule_id, active.rule)
        return chosen

    @staticmethod
    def _fires(active: _Active) -> bool:
        rule, seen = active.rule, active.seen
        cap = rule.max_firings
        if cap is not None and active.fired >= cap:
            return False
        if isinstance(rule.nth, int) and seen < rule.nth:
            return False
        if isinstance(rule.nth, tuple) and seen not in rule.nth:
            return False
        return rule.probability >= 1.0 or active.rng.random() < rule.probability

    def record(self, event: FaultEvent) -> None:
        """Log a firing."""
        with self._lock:
            self._events.append(event)

    def events(self) -> list[FaultEvent]:
        """Every firing so far, in order."""
        with self._lock:
            return list(self._events)

    def rules(self) -> list[dict[str, Any]]:
        """The active rules with their counters (JSON-ready)."""
        with self._lock:
            return [{"id": a.rule_id, "seen": a.seen, "fired": a.fired,
                     **a.rule.model_dump(mode="json", exclude_defaults=True)}
                    for a in self._rules]


def parse_rules(payload: Any, origin: str) -> tuple[FaultRule, ...]:
    """Rules from decoded JSON/TOML: a list, ``{"faults": [...]}`` or a single rule.

    Raises:
        UsageError: Naming ``origin`` and every problem.
    """
    if isinstance(payload, dict) and "faults" in payload:
        payload = payload["faults"]
    items = payload if isinstance(payload, list) else [payload]
    rules = []
    for index, item in enumerate(items):
        try:
            rules.append(FaultRule.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}"
                                 for e in exc.errors())
            raise UsageError(f"{origin}: fault rule {index + 1}: {problems}") from None
    return tuple(rules)


def load_fault_file(path: Path) -> tuple[FaultRule, ...]:
    """Rules from a JSON or TOML file (``[[faults]]`` tables in TOML).

    Raises:
        UsageError: If the file is missing, unreadable or holds an invalid rule.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read fault file {path}: {exc.strerror}") from None
    try:
        payload = tomllib.loads(text) if Path(path).suffix.lower() == ".toml" else json.loads(
            text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"fault file {path} is not valid "
                         f"{'TOML' if str(path).endswith('.toml') else 'JSON'}: {exc}") from None
    return parse_rules(payload, str(path))
