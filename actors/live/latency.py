"""Per-stage latency of a running session in bounded memory (HdrHistogram).

A month-long session records millions of steps; a list of samples would grow with it. Each
stage is one :class:`hdrh.histogram.HdrHistogram` (1 us .. 1 hour, 3 significant digits:
a fixed few tens of kB whatever the number of samples).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


class StageLatency:
    """Streaming latency percentiles per stage, in milliseconds."""

    def __init__(self) -> None:
        self._stages: dict[str, HdrHistogram] = {}
        self._summary: tuple[float, dict[str, dict[str, float]]] | None = None

    def record(self, samples_ms: Mapping[str, float]) -> None:
        """Add one sample per stage (milliseconds)."""
        for stage, value in samples_ms.items():
            histogram = self._stages.get(stage)
            if histogram is None:
                histogram = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
                self._stages[stage] = histogram
            micros = int(round(max(value, 0.0) * 1000.0))
            histogram.record_value(min(max(micros, LOWEST_US), HIGHEST_US))

    def count(self, stage: str) -> int:
        """Samples recorded for ``stage``."""
        histogram = self._stages.get(stage)
        return 0 if histogram is None else int(histogram.get_total_count())

    def percentile_ms(self, stage: str, percentile: float) -> float:
        """The ``percentile`` of ``stage`` in ms (NaN without samples)."""
        histogram = self._stages.get(stage)
        if histogram is None or histogram.get_total_count() == 0:
            return float("nan")
        return histogram.get_value_at_percentile(percentile) / 1000.0

    def summary(self, max_age_s: float = 0.0) -> dict[str, dict[str, float]]:
        """``{stage: {"count": n, "p50": ms, "p90": ms, "p99": ms, "p99.9": ms, "max": ms}}``.

        Args:
            max_age_s: A summary computed less than this long ago is returned again
                (followers poll status often; percentiles of a histogram are not free).
        """
        now = time.monotonic()
        if self._summary is not None and now - self._summary[0] < max_age_s:
            return self._summary[1]
        out: dict[str, dict[str, float]] = {}
        for stage, histogram in sorted(self._stages.items()):
            row = {"count": float(histogram.get_total_count())}
            for q in PERCENTILES:
                row[f"p{q:g}"] = histogram.get_value_at_percentile(q) / 1000.0
            row["max"] = histogram.get_max_value() / 1000.0
            out[stage] = row
        self._summary = (now, out)
        return out
