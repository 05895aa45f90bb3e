"""What the risk guardian answers for a step: a light module (the session unpickles it).

The session actor receives a :class:`GuardianReport` for every step. Unpickling a value
imports the module of its class, so the report lives here, beside nothing heavy: a restarted
session does not import the guardian's trading code (numba kernels) to read its first answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.trading.messages import TradingState


@dataclass(frozen=True, slots=True)
class GuardianReport:
    """One step through the guardian (what the session needs; the records go to the store).

    Attributes:
        seq: Step number.
        ts: Open time of the step's last bar.
        equity: Equity at its close.
        state: Trading state after the step.
        positions: ``(symbol, tag, quantity)`` of the open positions.
        stopped: Symbols whose feed stopped on corrupt data.
        fills: Fills in the step.
        denials: Denied orders in the step.
        exchanges: Round trips to the executor.
        timings_ms: ``signal`` (waiting for the slot), ``risk`` (the loop without the
            executor), ``order`` (exchanges with the executor), ``journal`` (the fsynced
            record), and ``ahead`` when the step's first exchange went before its signals.
        alarms: The sentry's alarms of the step (drift, daily drop), each a dict with its
            ``kind``, ``ts``, ``seq`` and what a theory packet needs.
    """

    seq: int
    ts: int
    equity: float
    state: TradingState
    positions: tuple[tuple[str, str, float], ...]
    stopped: tuple[str, ...]
    fills: int
    denials: int
    exchanges: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    alarms: tuple[dict[str, Any], ...] = ()


__all__ = ["GuardianReport"]
