"""The statistical gates of a search: FDR over every trial, DSR with the final trial count.

An elite survives only if (1) its out-of-sample p-value is rejected by Benjamini-Hochberg
over *all* expressions the search tried — failures included, as p = 1, because they were
hypotheses too — and (2) its deflated Sharpe ratio, recomputed with the final number of
trials and the variance of the trials' out-of-sample Sharpe ratios, reaches the gate. Scores
stored during the search used the trial count at the time; these are the honest ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.validation import ValidationError, benjamini_hochberg, deflated_sharpe_ratio


@dataclass(frozen=True, slots=True)
class GateResult:
    """How one elite fared at the gates.

    Attributes:
        genome_id: The elite.
        p_value: One minus its out-of-sample PSR(SR > 0).
        q_value: Its Benjamini-Hochberg adjusted p-value over all trials.
        passes_fdr: Rejected by BH at the FDR level.
        dsr: Deflated Sharpe ratio with the final trial count.
        passes_dsr: ``dsr`` reaches the gate.
    """

    genome_id: int
    p_value: float
    q_value: float
    passes_fdr: bool
    dsr: float
    passes_dsr: bool

    @property
    def survives(self) -> bool:
        """Both gates passed."""
        return self.passes_fdr and self.passes_dsr


def apply_gates(elites: Mapping[int, Mapping[str, float]],
                trials: Sequence[Mapping[str, float] | None], *, fdr_alpha: float = 0.05,
                dsr_gate: float = 0.95) -> list[GateResult]:
    """Gate the elites against the whole population of trials.

    Args:
        elites: Genome id -> metrics (``p_value``, ``oos_sr``, ``oos_skew``, ``oos_kurtosis``,
            ``oos_bars``) of each elite.
        trials: Metrics of every trial of the search (None or missing values for failures).
        fdr_alpha: False discovery rate of the BH procedure.
        dsr_gate: Minimum deflated Sharpe ratio.

    Returns:
        One result per elite, in the order of ``elites``.
    """
    p_values = np.array([_get(t, "p_value", 1.0) for t in trials] or [1.0])
    p_values = np.where(np.isfinite(p_values), np.clip(p_values, 0.0, 1.0), 1.0)
    _, adjusted = benjamini_hochberg(p_values, fdr_alpha)
    threshold = _bh_threshold(p_values, fdr_alpha)
    sharpes = np.array([_get(t, "oos_sr", math.nan) for t in trials])
    sharpes = sharpes[np.isfinite(sharpes)]
    variance = float(sharpes.var(ddof=1)) if len(sharpes) > 1 else math.nan
    n_trials = max(len(trials), 1)
    results = []
    for genome_id, metrics in elites.items():
        p = _get(metrics, "p_value", 1.0)
        p = p if math.isfinite(p) else 1.0
        q = float(np.min(adjusted[np.isclose(p_values, p)])) if np.isclose(p_values, p).any() \
            else min(1.0, p * len(p_values))
        dsr = _dsr(metrics, n_trials, variance)
        results.append(GateResult(genome_id, p, q, bool(p <= threshold), dsr,
                                  bool(math.isfinite(dsr) and dsr >= dsr_gate)))
    return results


def _get(metrics: Mapping[str, float] | None, key: str, default: float) -> float:
    if metrics is None:
        return default
    value = metrics.get(key, default)
    return default if value is None else float(value)


def _bh_threshold(p_values: np.ndarray, alpha: float) -> float:
    """The largest p-value BH rejects (-1 when it rejects nothing)."""
    ordered = np.sort(p_values)
    m = len(ordered)
    passing = ordered <= alpha * np.arange(1, m + 1) / m
    return float(ordered[np.nonzero(passing)[0].max()]) if passing.any() else -1.0


def _dsr(metrics: Mapping[str, float], n_trials: int, variance: float) -> float:
    sr = _get(metrics, "oos_sr", math.nan)
    n = int(_get(metrics, "oos_bars", 0.0))
    skew = _get(metrics, "oos_skew", math.nan)
    kurtosis = _get(metrics, "oos_kurtosis", math.nan)
    if not all(math.isfinite(v) for v in (sr, skew, kurtosis)) or n < 3:
        return math.nan
    if not math.isfinite(variance):
        variance = 1.0 / (n - 1)
    try:
        return float(deflated_sharpe_ratio(sr, n, skew, kurtosis, n_trials, variance))
    except ValidationError:
        return math.nan
