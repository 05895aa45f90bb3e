"""An injected alpha decay: a copy of the stored market that turns against a policy.

From ``start_ms`` on, every bar of every symbol moves by the size of the real bar's move but
against the position the policy holds over it (its target decided at the previous close, as
the fill model trades it at this bar's open, which is the previous close). The policy's
signals are computed causally on the rewritten prices, bar by bar, so whatever the alpha is,
its live returns turn negative from ``start_ms``: the decay the drift sentry must catch. Bars
before ``start_ms`` (the policy's proof window included) are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actors.adapters.parquet_store import write_candles
from actors.governance.evidence import load_market
from actors.live.feed import series_path
from configs.app import AppConfig
from core.data.candles import Candles
from core.governance.expectation import policy_targets
from core.governance.policy import PolicySpec

LOOKBACK_BARS = 600
"""History the policy's signal is computed on at each bar (longer than its windows)."""


def adversarial_copy(config: AppConfig, spec: PolicySpec, out_dir: Path, start_ms: int,
                     end_ms: int) -> Path:
    """Write the rewritten market of ``spec``'s symbols under ``out_dir``; returns it."""
    candles = list(load_market(config, spec, None, end_ms))
    ts = candles[0].timestamp
    assert all(np.array_equal(c.timestamp, ts) for c in candles), "align the symbols first"
    first = int(np.searchsorted(ts, start_ms))
    bars = {name: np.column_stack([getattr(c, name) for c in candles]).copy()
            for name in ("open", "high", "low", "close")}
    moves = np.abs(np.diff(np.log(bars["close"]), axis=0, prepend=np.nan))
    for i in range(first, len(ts)):
        window = slice(max(0, i - LOOKBACK_BARS), i)
        past = [_rows(c, bars, j, window) for j, c in enumerate(candles)]
        held = np.nan_to_num(policy_targets(spec, past)[-1])
        direction = np.where(held != 0.0, -np.sign(held), 1.0)
        opened = bars["close"][i - 1]
        closed = opened * np.exp(direction * moves[i])
        bars["open"][i], bars["close"][i] = opened, closed
        bars["high"][i], bars["low"][i] = np.maximum(opened, closed), np.minimum(opened, closed)
    for j, c in enumerate(candles):
        path = series_path(out_dir, config.data.venue, c.meta.symbol, spec.timeframe)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_candles(path, _rows(c, bars, j, slice(None)))
    return out_dir


def _rows(candles: Candles, bars: dict[str, np.ndarray], column: int, rows: slice) -> Candles:
    """``candles[rows]`` with the (rewritten) prices of ``bars``' column ``column``."""
    return candles.take(rows).replace(**{name: values[rows, column]
                                         for name, values in bars.items()})
