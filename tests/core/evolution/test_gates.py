"""Gates: FDR over every trial and DSR with the final trial count."""

from __future__ import annotations

import math

from core.evolution.gates import apply_gates
from core.validation import benjamini_hochberg, deflated_sharpe_ratio


def metrics(p: float, sr: float = 0.05, bars: int = 5_000) -> dict[str, float]:
    return {"p_value": p, "oos_sr": sr, "oos_skew": 0.0, "oos_kurtosis": 3.0,
            "oos_bars": float(bars)}


def test_fdr_counts_failures_and_every_trial_not_just_elites():
    strong, weak = metrics(1e-6, sr=0.08), metrics(0.004, sr=0.04)
    elites = {1: strong, 2: weak}
    few = apply_gates(elites, [strong, weak], fdr_alpha=0.05, dsr_gate=0.0)
    assert [g.passes_fdr for g in few] == [True, True]
    # The same two elites found among 200 trials (the rest failed): the weak one no longer
    # survives the correction, the strong one still does.
    many = apply_gates(elites, [strong, weak, *[None] * 198], fdr_alpha=0.05, dsr_gate=0.0)
    assert [g.passes_fdr for g in many] == [True, False]
    rejected, adjusted = benjamini_hochberg([1e-6, 0.004, *[1.0] * 198], 0.05)
    assert many[1].q_value == adjusted[1] and not rejected[1]


def test_dsr_uses_the_final_trial_count_and_the_trials_variance():
    trials = [metrics(0.5, sr=s) for s in (0.01, -0.02, 0.03, 0.0, 0.05)]
    elite = metrics(1e-4, sr=0.05)
    (result,) = apply_gates({9: elite}, trials, dsr_gate=0.95)
    variance = [0.01, -0.02, 0.03, 0.0, 0.05]
    mean = sum(variance) / 5
    var = sum((x - mean) ** 2 for x in variance) / 4
    assert math.isclose(result.dsr, deflated_sharpe_ratio(0.05, 5_000, 0.0, 3.0, 5, var))
    more = apply_gates({9: elite}, trials * 40, dsr_gate=0.95)[0]
    assert more.dsr < result.dsr  # more trials, a higher bar
    assert result.survives == (result.passes_fdr and result.dsr >= 0.95)


def test_undefined_metrics_never_pass():
    (result,) = apply_gates({3: {"p_value": math.nan}}, [None, None])
    assert result.p_value == 1.0 and not result.passes_fdr and math.isnan(result.dsr)
    assert not result.survives
