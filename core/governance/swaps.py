"""Which policy the active slot runs at each step of a session: its swap schedule (pure).

A promotion or a rollback while a session runs does not restart anything: the session appends
a :class:`PolicySwap` — from step ``from_seq`` on, run this policy — to a durable schedule
before the bars of that step are published, and the slot reads the schedule when it computes
a step. Any incarnation of the slot (restarted, or after a ``resume``) therefore computes every
step with the same strategy, and the strategy in force at a step never depends on when the
request arrived. A swap keeps the book's positions and their protective stops (they belong to
the guardian's book, not to the strategy), or flattens them at the swap's first bar
(``positions = "flatten"``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import ConfigError
from core.governance.policy import PolicySpec
from core.governance.runtime import choice_of
from core.trading.choice import StrategyChoice

Positions = Literal["keep", "flatten"]
POSITIONS: tuple[str, ...] = ("keep", "flatten")


@dataclass(frozen=True, slots=True)
class PolicySwap:
    """From step ``from_seq`` on, the active slot runs ``spec``.

    Attributes:
        from_seq: First step computed with the new policy.
        spec: The policy's canonical JSON (the ledger's).
        positions: ``keep`` or ``flatten`` the open positions at the swap.
        reason: Why (the ledger action and its reason).
        request: Id of the request that caused it (a retried request is applied once).
        drift: JSON of the policy's drift model (:class:`~core.governance.drift.DriftModel`
            dict; "" when it has none): what the sentry watches it with.
        size_scale: The factor on the policy's targets from this step on (a drift alarm's
            ``halve_size`` swaps in the same policy at half its size).
    """

    from_seq: int
    spec: str
    positions: str = "keep"
    reason: str = ""
    request: str = ""
    drift: str = ""
    size_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.from_seq < 0:
            raise ConfigError(f"a policy swap starts at step {self.from_seq}: must be >= 0")
        if not 0.0 < self.size_scale <= 1.0:
            raise ConfigError(f"a policy swap's size scale is in (0, 1], got {self.size_scale}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"positions must be one of {POSITIONS}, got {self.positions!r}")

    @property
    def policy(self) -> PolicySpec:
        """The policy it swaps in."""
        return PolicySpec.from_json(self.spec)

    def to_json(self) -> str:
        """One line of the schedule file."""
        body = {"from_seq": self.from_seq, "spec": self.spec, "positions": self.positions,
                "reason": self.reason, "request": self.request, "drift": self.drift}
        if self.size_scale != 1.0:
            body["size_scale"] = self.size_scale
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PolicySwap:
        """A swap from :meth:`to_json`.

        Raises:
            ConfigError: Not a swap.
        """
        try:
            body: dict[str, Any] = json.loads(text)
            return cls(int(body["from_seq"]), str(body["spec"]), str(body["positions"]),
                       str(body["reason"]), str(body["request"]), str(body.get("drift", "")),
                       float(body.get("size_scale", 1.0)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not a policy swap: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PolicySchedule:
    """The session's initial strategy and its swaps, in step order."""

    initial: StrategyChoice
    swaps: tuple[PolicySwap, ...] = ()

    def __post_init__(self) -> None:
        steps = [s.from_seq for s in self.swaps]
        if steps != sorted(steps) or len(set(steps)) != len(steps):
            raise ConfigError(f"policy swaps must start at increasing steps, got {steps}")

    def swap_at(self, seq: int) -> PolicySwap | None:
        """The swap in force at step ``seq`` (None: the initial strategy)."""
        current = None
        for swap in self.swaps:
            if swap.from_seq > seq:
                break
            current = swap
        return current

    def choice_at(self, seq: int) -> StrategyChoice:
        """What the slot runs at step ``seq``."""
        swap = self.swap_at(seq)
        return self.initial if swap is None else choice_of(swap.policy, self.initial.label)

    def size_scale_at(self, seq: int) -> float:
        """The factor on the slot's targets at step ``seq``."""
        swap = self.swap_at(seq)
        return 1.0 if swap is None else swap.size_scale

    def starting_at(self, seq: int) -> PolicySwap | None:
        """The swap that starts exactly at step ``seq``, if any."""
        return next((s for s in self.swaps if s.from_seq == seq), None)

    def appended(self, swap: PolicySwap) -> PolicySchedule:
        """This schedule with ``swap`` after the others.

        Raises:
            ConfigError: It does not start after the last swap.
        """
        return PolicySchedule(self.initial, (*self.swaps, swap))


def read_schedule(initial: StrategyChoice, lines: Sequence[str]) -> PolicySchedule:
    """A schedule from the schedule file's lines (a torn last line is ignored).

    Raises:
        ConfigError: A line before the last one is not a swap, or the steps do not increase.
    """
    swaps = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            swaps.append(PolicySwap.from_json(line))
        except ConfigError:
            if number == len(lines):
                break  # a write cut short by a crash: that swap was never applied
            raise
    return PolicySchedule(initial, tuple(swaps))
