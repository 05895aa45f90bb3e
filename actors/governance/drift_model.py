"""A policy's drift model: its backtest returns on its proof window, calibrated by bootstrap.

The expectation is the policy's own backtest (:func:`core.governance.expectation.expectation`)
over the data window it was proven on; the detectors' thresholds come from a moving-block
bootstrap of those returns (:func:`core.governance.drift.calibrate`), so that a policy that
does not drift alarms about once per ``[governance.drift] false_alarm_days``.
"""

from __future__ import annotations

import json

import numpy as np

from actors.governance.evidence import load_market
from configs.app import AppConfig
from core.data.timeframes import timeframe_to_ms
from core.errors import EvotraderError
from core.governance.drift import DriftModel, calibrate
from core.governance.expectation import expectation
from core.governance.policy import PolicySpec


def drift_model_for(config: AppConfig, spec: PolicySpec) -> DriftModel | None:
    """The drift model of ``spec`` (None: sentry off, or no proof window to learn it from).

    Raises:
        UsageError: No stored data for the policy's window.
        ConfigError: Too few returns in the window to calibrate.
    """
    drift = config.governance.drift
    start, end = spec.window
    if not drift.enabled or start is None or end is None:
        return None
    candles = load_market(config, spec, start, end + 1)
    returns = expectation(spec, candles).returns
    returns = returns[np.isfinite(returns)]
    bars = max(2, int(drift.false_alarm_days * 86_400_000 / timeframe_to_ms(spec.timeframe)))
    return calibrate(spec.hash, returns, false_alarm_bars=bars, seed=config.app.seed,
                     ph_delta=drift.ph_delta, cusum_k=drift.cusum_k,
                     paths=drift.bootstrap_paths, block_bars=drift.block_bars,
                     shift_sd=drift.shift_sd)


def drift_json(config: AppConfig, spec: PolicySpec) -> tuple[str, str]:
    """:func:`drift_model_for` as the JSON a swap or a session carries, and a note.

    Returns:
        The model's JSON ("" = none) and, when there is none, why.
    """
    try:
        model = drift_model_for(config, spec)
    except EvotraderError as exc:
        return "", f"drift sentry off for {spec.hash}: {exc}"
    if model is None:
        why = ("[governance.drift] enabled = false" if not config.governance.drift.enabled
               else "it has no proof window to learn its returns from")
        return "", f"drift sentry off for {spec.hash}: {why}"
    return json.dumps(model.to_dict(), sort_keys=True), ""
