"""Latency of the live path, stage by stage, in bounded memory.

Stages of one step: ``signal`` (bars published -> the strategy's signals at the guardian),
``risk`` (the guardian's own work: planning, risk checks, portfolio), ``order`` (round trips
to the executor: fills reported, orders acknowledged), ``journal`` (the step's write-ahead
record on disk) and ``ack`` (bar close -> the step acknowledged, end to end). A sample is the
time one stage took, in milliseconds, measured by the actor side (this module never reads a
clock).

Memory is bounded per stage:

* Up to ``max_exact`` samples are kept as they are, and percentiles are exactly
  ``numpy.percentile(samples, q, method="linear")``.
* Past that, the stage switches for good to a fixed-bin logarithmic histogram: bin edges
  ``HIST_LOW_MS * 10 ** (k / BINS_PER_DECADE)`` for ``k = 0 .. HIST_DECADES * BINS_PER_DECADE``
  (1 microsecond to 1000 seconds, 100 bins per decade), plus one bin below (``[0, 1 us)``) and
  one above (``>= 1000 s``); about 7 KB per stage whatever the number of samples. A percentile
  is then numpy's ``linear`` rule applied to the sorted samples, each sample replaced by the
  geometric centre of its bin (the smallest and largest kept exactly) and the result clamped to
  the observed ``[min, max]``: the relative error is at most half a bin,
  ``10 ** (1 / 200) - 1`` ~ 1.2 %, for samples between 1 us and 1000 s (samples beyond are
  reported as the nearest bound or the observed extreme).

Recorders with the same stages merge (:meth:`LatencyRecorder.merge`); the result stays exact
while the combined count fits ``max_exact``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

STAGES: tuple[str, ...] = ("signal", "ahead", "risk", "order", "journal", "ack")
"""Stages of the live path, in the order a bar goes through them (``ahead``: the step's first
exchange, made while waiting for the signals when the bars came first)."""

PERCENTILES: tuple[float, ...] = (50.0, 99.0, 99.9)
"""Percentiles reported by :meth:`LatencyRecorder.stats`."""

DEFAULT_MAX_EXACT = 100_000
HIST_LOW_MS = 1e-3
HIST_DECADES = 9
BINS_PER_DECADE = 100
_N_LOG_BINS = HIST_DECADES * BINS_PER_DECADE
_EDGES = HIST_LOW_MS * 10.0 ** (np.arange(_N_LOG_BINS + 1) / BINS_PER_DECADE)
# Representative value of each bin: 0 for the underflow bin, geometric centres of the log bins,
# the top edge for the overflow bin (clamping to the observed max corrects the last two).
_CENTRES = np.concatenate(([0.0], np.sqrt(_EDGES[:-1] * _EDGES[1:]), [_EDGES[-1]]))


@dataclass(frozen=True, slots=True)
class StageStats:
    """Latency percentiles of one stage (milliseconds).

    Attributes:
        stage: Stage name.
        count: Number of samples.
        p50: Median.
        p99: 99th percentile.
        p999: 99.9th percentile.
        max: Largest sample.
        exact: True when computed from every sample, False when from the histogram.
    """

    stage: str
    count: int
    p50: float
    p99: float
    p999: float
    max: float
    exact: bool


class _Stage:
    """Samples of one stage: an exact list, or the histogram once the list is full."""

    __slots__ = ("count", "exact", "hist", "high", "low")

    def __init__(self) -> None:
        self.exact: list[float] | None = []
        self.hist: np.ndarray | None = None
        self.count = 0
        self.low = math.inf
        self.high = -math.inf

    def to_histogram(self) -> None:
        if self.hist is None:
            self.hist = np.zeros(_N_LOG_BINS + 2, dtype=np.int64)
            if self.exact:
                self.hist += _bin_counts(np.asarray(self.exact, dtype=np.float64))
            self.exact = None


def _bin_counts(values: np.ndarray) -> np.ndarray:
    """Counts of ``values`` in the fixed bins (underflow, log bins, overflow)."""
    index = np.searchsorted(_EDGES, values, side="right")
    return np.bincount(index, minlength=_N_LOG_BINS + 2)


def _check(stage: str, values: np.ndarray, stages: Sequence[str]) -> None:
    if stage not in stages:
        raise ValueError(f"unknown latency stage {stage!r}; expected one of {tuple(stages)}")
    if values.size and not (np.all(np.isfinite(values)) and values.min() >= 0.0):
        raise ValueError(f"latency samples of stage {stage!r} must be finite and >= 0 ms")


class LatencyRecorder:
    """Per-stage latency samples with exact-then-histogram percentiles (see module doc).

    Pure and single-threaded: the owner feeds it samples it measured itself.

    Args:
        stages: Allowed stage names (default :data:`STAGES`).
        max_exact: Samples per stage kept exactly before switching to the histogram.

    Raises:
        ValueError: ``max_exact`` is negative or ``stages`` is empty or repeats a name.
    """

    def __init__(self, stages: Sequence[str] = STAGES, max_exact: int = DEFAULT_MAX_EXACT
                 ) -> None:
        if max_exact < 0:
            raise ValueError(f"max_exact must be >= 0, got {max_exact}")
        if not stages or len(set(stages)) != len(stages):
            raise ValueError(f"stages must be distinct and non-empty, got {tuple(stages)}")
        self.stages = tuple(stages)
        self.max_exact = int(max_exact)
        self._data = {name: _Stage() for name in self.stages}

    def add(self, stage: str, ms: float) -> None:
        """Record one sample of ``stage``, in milliseconds.

        Raises:
            ValueError: Unknown stage, or a negative or non-finite sample.
        """
        data = self._data.get(stage)
        value = float(ms)
        if data is None or data.exact is None or len(data.exact) >= self.max_exact \
                or not (math.isfinite(value) and value >= 0.0):
            self.extend(stage, (value,))  # the general path (and its error messages)
            return
        data.exact.append(value)
        data.count += 1
        data.low = min(data.low, value)
        data.high = max(data.high, value)

    def extend(self, stage: str, samples: Iterable[float]) -> None:
        """Record several samples of ``stage`` (ms), in order.

        Raises:
            ValueError: Unknown stage, or a negative or non-finite sample.
        """
        values = np.asarray(list(samples), dtype=np.float64)
        _check(stage, values, self.stages)
        if values.size == 0:
            return
        data = self._data[stage]
        data.count += int(values.size)
        data.low = min(data.low, float(values.min()))
        data.high = max(data.high, float(values.max()))
        if data.exact is not None and len(data.exact) + values.size <= self.max_exact:
            data.exact.extend(values.tolist())
            return
        data.to_histogram()
        assert data.hist is not None
        data.hist += _bin_counts(values)

    def count(self, stage: str) -> int:
        """Number of samples recorded for ``stage``."""
        return self._data[stage].count

    def is_exact(self, stage: str) -> bool:
        """True while ``stage`` still keeps every sample."""
        return self._data[stage].exact is not None

    def percentiles(self, stage: str, qs: Sequence[float] = PERCENTILES) -> tuple[float, ...]:
        """Percentiles ``qs`` (0..100) of ``stage``, numpy ``linear`` method; NaN if empty."""
        data = self._data[stage]
        if data.count == 0:
            return tuple(math.nan for _ in qs)
        if data.exact is not None:
            values = np.percentile(np.asarray(data.exact), list(qs), method="linear")
            return tuple(float(v) for v in values)
        assert data.hist is not None
        return tuple(_hist_percentile(data.hist, data.count, q, data.low, data.high)
                     for q in qs)

    def stats(self) -> tuple[StageStats, ...]:
        """:class:`StageStats` of every stage that has samples, in stage order."""
        out = []
        for name in self.stages:
            data = self._data[name]
            if data.count:
                p50, p99, p999 = self.percentiles(name, PERCENTILES)
                out.append(StageStats(name, data.count, p50, p99, p999, data.high,
                                      data.exact is not None))
        return tuple(out)

    def merge(self, other: LatencyRecorder) -> LatencyRecorder:
        """A new recorder holding the samples of ``self`` then ``other``.

        The result keeps ``self.max_exact``; a stage stays exact while its combined count fits.

        Raises:
            ValueError: The recorders have different stages.
        """
        if other.stages != self.stages:
            raise ValueError(f"cannot merge latency stages {other.stages} into {self.stages}")
        merged = LatencyRecorder(self.stages, self.max_exact)
        for name in self.stages:
            for source in (self._data[name], other._data[name]):
                if source.exact is not None:
                    merged.extend(name, source.exact)
                elif source.hist is not None:
                    _absorb(merged._data[name], source)
        return merged


def _absorb(target: _Stage, source: _Stage) -> None:
    """Add a histogram stage's counts to ``target`` (which becomes a histogram)."""
    assert source.hist is not None
    target.to_histogram()
    assert target.hist is not None
    target.hist += source.hist
    target.count += source.count
    target.low = min(target.low, source.low)
    target.high = max(target.high, source.high)


def merge_recorders(recorders: Iterable[LatencyRecorder]) -> LatencyRecorder:
    """Merge recorders in order (see :meth:`LatencyRecorder.merge`).

    Raises:
        ValueError: No recorder given, or their stages differ.
    """
    items = list(recorders)
    if not items:
        raise ValueError("merge_recorders needs at least one recorder")
    result = items[0].merge(LatencyRecorder(items[0].stages, items[0].max_exact))
    for item in items[1:]:
        result = result.merge(item)
    return result


def _hist_percentile(hist: np.ndarray, count: int, q: float, low: float, high: float
                     ) -> float:
    """Apply numpy's ``linear`` percentile rule to the histogram's representative values."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    rank = (count - 1) * q / 100.0
    below, above = math.floor(rank), math.ceil(rank)
    cumulative = np.cumsum(hist)

    def sorted_sample(k: int) -> float:  # the k-th smallest sample (exact at both ends)
        if k == 0:
            return low
        if k == count - 1:
            return high
        return float(_CENTRES[np.searchsorted(cumulative, k, side="right")])

    lo_value, hi_value = sorted_sample(below), sorted_sample(above)
    value = lo_value + (hi_value - lo_value) * (rank - below)
    return min(max(value, low), high)
