"""Promotion gates: each measured value against its configured threshold (pure).

The adapters measure (:class:`Measurement`: a value, or why there is none, with pointers to
the evidence); :func:`check_gates` compares each with its threshold from
:class:`~configs.governance.GatesConfig` and returns one :class:`GateResult` per gate, in
:data:`~configs.governance.GATE_NAMES` order. A gate that could not be measured fails: a
promotion is never allowed for lack of evidence. A gate turned off in the config passes and
is listed as ``off``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from configs.governance import GATE_NAMES, GatesConfig
from configs.risk import RiskLimits

RULES: dict[str, tuple[str, str]] = {
    "oos_sharpe": ("min_oos_sharpe", ">="),
    "pbo": ("max_pbo", "<="),
    "dsr": ("min_dsr", ">="),
    "fdr_q": ("max_fdr_q", "<="),
    "paper_days": ("min_paper_days", ">="),
    "paper_trades": ("min_paper_trades", ">="),
    "tracking_error": ("max_tracking_error", "<="),
    "own_denials": ("max_own_denials", "<="),
    "correlation_to_active": ("max_correlation_to_active", "<="),
    "regime_grid": ("min_positive_regimes", ">="),
}
"""Gate -> (threshold field of the config, comparison). ``risk_template`` counts looser
fields and must count none."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """A pointer to what a gate measured: a run, a report, with the sha256 of its bytes."""

    kind: str
    ref: str
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Measurement:
    """What an adapter measured for one gate.

    Attributes:
        value: The measured value (None: it could not be measured; ``note`` says why).
        evidence: Where it comes from.
        note: Why there is no value, or what the value covers.
    """

    value: float | None
    evidence: tuple[Evidence, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate: its measured value, the threshold, the verdict and the evidence."""

    name: str
    value: float | None
    threshold: str
    passed: bool
    evidence: tuple[Evidence, ...] = ()
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON types, as the ledger hashes them."""
        return {"name": self.name, "value": self.value, "threshold": self.threshold,
                "passed": self.passed, "note": self.note,
                "evidence": [{"kind": e.kind, "ref": e.ref, "sha256": e.sha256}
                             for e in self.evidence]}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> GateResult:
        """The inverse of :meth:`to_dict` (KeyError or TypeError when malformed)."""
        value = body["value"]
        return cls(str(body["name"]), None if value is None else float(value),
                   str(body["threshold"]), bool(body["passed"]),
                   tuple(Evidence(str(e["kind"]), str(e["ref"]), str(e["sha256"]))
                         for e in body["evidence"]), str(body.get("note", "")))


def threshold_text(config: GatesConfig, name: str) -> str:
    """The threshold of gate ``name`` as the tables print it (``>= 0.5``, ``off``)."""
    if name in config.off:
        return "off"
    if name == "risk_template":
        return "no looser field"
    field, op = RULES[name]
    return f"{op} {getattr(config, field):g}"


def check_gates(config: GatesConfig, measured: Mapping[str, Measurement]
                ) -> tuple[GateResult, ...]:
    """Every gate's verdict, in :data:`GATE_NAMES` order.

    Args:
        config: The thresholds and the gates turned off.
        measured: Gate name -> what was measured (a missing gate was not measured).
    """
    results = []
    for name in GATE_NAMES:
        found = measured.get(name, Measurement(None, note="not measured"))
        threshold = threshold_text(config, name)
        if name in config.off:
            results.append(GateResult(name, found.value, threshold, True, found.evidence,
                                      found.note))
            continue
        value = found.value
        if value is None or not math.isfinite(value):
            results.append(GateResult(name, None, threshold, False, found.evidence,
                                      found.note or "not measured"))
            continue
        if name == "risk_template":
            passed = value <= 0
        else:
            field, op = RULES[name]
            limit = float(getattr(config, field))
            passed = value >= limit if op == ">=" else value <= limit
        results.append(GateResult(name, float(value), threshold, passed, found.evidence,
                                  found.note))
    return tuple(results)


def refusals(results: Sequence[GateResult]) -> list[GateResult]:
    """The gates that failed."""
    return [r for r in results if not r.passed]


def looser_risk_fields(policy: RiskLimits, active: RiskLimits) -> list[str]:
    """Fields of the ``policy``'s (effective) limits looser than the ``active`` ones.

    A limit the active template sets and the policy leaves unset is looser; a longer
    cooldown is tighter.
    """
    loose = []
    for name in type(policy).model_fields:
        mine, theirs = getattr(policy, name), getattr(active, name)
        if theirs is None:
            continue
        if mine is None:
            loose.append(name)
        elif name == "cooldown_minutes":
            if mine < theirs:
                loose.append(name)
        elif mine > theirs:
            loose.append(name)
    return loose
