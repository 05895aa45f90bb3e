"""Drift sentry: detect a fall of a policy's mean live return below its backtest (pure).

Live per-bar returns ``r_t`` are standardised against the backtest, ``z_t = (r_t - mu) / sd``,
and fed to two one-sided detectors of a decrease of the mean (alpha decay):

* Page-Hinkley: ``m_t = m_{t-1} + z_t + ph_delta``, ``M_t = max(M_{t-1}, m_t)`` with
  ``m_0 = M_0 = 0``; statistic ``PH_t = M_t - m_t``, alarm when ``PH_t > ph_threshold``;
* lower CUSUM: ``S_t = max(0, S_{t-1} - z_t - cusum_k)`` with ``S_0 = 0``; alarm when
  ``S_t > cusum_threshold``.

:func:`calibrate` sets both thresholds from a moving-block bootstrap of the policy's own
backtest returns, so fat tails and autocorrelation raise them instead of causing false alarms.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.errors import ConfigError

DETECTORS: tuple[str, ...] = ("page_hinkley", "cusum")
"""The detector names, in the order they are checked on each bar."""
_CHUNK = 1 << 21
"""Bootstrap values computed at once (bounds the memory of a calibration)."""
_FLOATS = ("mean", "std", "ph_delta", "ph_threshold", "cusum_k", "cusum_threshold",
           "detection_delay_bars", "shift_sd")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _out_of_range(name: str, value: Any, low: float, *, integer: bool = False,
                  strict: bool = False) -> list[str]:
    """``[problem]`` unless ``value`` is a finite number (an integer) >= ``low`` (> if strict)."""
    if (_is_int(value) if integer else _is_finite(value)) and (
            value > low if strict else value >= low):
        return []
    kind = "an integer" if integer else "a finite number"
    return [f"{name} = {value!r} must be {kind} {'>' if strict else '>='} {low:g}"]


@dataclass(frozen=True, slots=True)
class DriftModel:
    """A policy's backtest expectation and the calibrated thresholds of its detectors.

    Attributes:
        policy: The hash of the policy it belongs to.
        mean: Mean backtest return per bar (mu).
        std: Standard deviation of the backtest returns per bar (sd, > 0).
        ph_delta: Page-Hinkley tolerance, in sd units (>= 0).
        ph_threshold: Page-Hinkley alarm threshold (lambda, >= 0).
        cusum_k: CUSUM reference value, in sd units (>= 0).
        cusum_threshold: CUSUM alarm threshold (h, >= 0).
        false_alarm_bars: A policy without drift alarms about once per this many bars (>= 2).
        detection_delay_bars: Median bars to the first alarm after a shift of ``-shift_sd``,
            measured in calibration; NaN when that median is not reached within
            ``false_alarm_bars``.
        shift_sd: The shift (in sd units, > 0) behind ``detection_delay_bars``.

    Raises:
        ConfigError: Naming every field out of range, with its value.
    """

    policy: str
    mean: float
    std: float
    ph_delta: float
    ph_threshold: float
    cusum_k: float
    cusum_threshold: float
    false_alarm_bars: int
    detection_delay_bars: float
    shift_sd: float

    def __post_init__(self) -> None:
        problems = [] if isinstance(self.policy, str) and self.policy else [
            f"policy = {self.policy!r} must be a non-empty string"]
        if not _is_finite(self.mean):
            problems.append(f"mean = {self.mean!r} must be a finite number")
        problems += _out_of_range("std", self.std, 0, strict=True)
        for name in ("ph_delta", "ph_threshold", "cusum_k", "cusum_threshold"):
            problems += _out_of_range(name, getattr(self, name), 0)
        problems += _out_of_range("false_alarm_bars", self.false_alarm_bars, 2, integer=True)
        delay = self.detection_delay_bars
        if not (_is_real(delay) and (math.isnan(delay) or 0 <= delay < math.inf)):
            problems.append(f"detection_delay_bars = {delay!r} must be >= 0 and finite, or NaN")
        problems += _out_of_range("shift_sd", self.shift_sd, 0, strict=True)
        if problems:
            raise ConfigError("invalid DriftModel: " + "; ".join(problems))

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON types only; a NaN ``detection_delay_bars`` is written as the string "nan"."""
        body: dict[str, float | int | str] = {
            f.name: getattr(self, f.name) for f in fields(self)}
        if math.isnan(self.detection_delay_bars):
            body["detection_delay_bars"] = "nan"
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> DriftModel:
        """The inverse of :meth:`to_dict`.

        Raises:
            ConfigError: Not a mapping, a missing or unknown key, or a wrong or out-of-range
                value.
        """
        names = {f.name for f in fields(cls)}
        keys = set(body) if isinstance(body, Mapping) else set()
        if keys != names:
            raise ConfigError(f"not a DriftModel ({type(body).__name__}): missing keys "
                              f"{sorted(names - keys)}, unknown keys "
                              f"{sorted(map(str, keys - names))}")
        values = {**body}
        if values["detection_delay_bars"] == "nan":
            values["detection_delay_bars"] = math.nan
        wrong = [f"{name} = {values[name]!r} must be a number" for name in _FLOATS
                 if not _is_real(values[name])]
        if wrong:
            raise ConfigError("not a DriftModel: " + "; ".join(wrong))
        return cls(**(values | {name: float(values[name]) for name in _FLOATS}))


def calibrate(policy: str, returns: np.ndarray, *, false_alarm_bars: int, seed: int,
              ph_delta: float = 0.05, cusum_k: float = 0.25, paths: int = 200,
              block_bars: int = 24, shift_sd: float = 0.5) -> DriftModel:
    """Thresholds from a moving-block bootstrap of the policy's own backtest returns.

    The finite ``returns`` give ``mu`` and ``sd`` (ddof=1) and are standardised; ``paths``
    series of ``N = false_alarm_bars`` bars are drawn from them with circular blocks of
    ``block_bars`` consecutive bars (keeping fat tails and short-range autocorrelation) by
    ``np.random.default_rng(seed)``, and each detector's largest statistic per path is kept.

    Threshold: without drift the run length ``L`` to a false alarm is roughly exponential, so
    "about one false alarm per ``N`` bars" (mean run length ``N``) means
    ``P(L <= N) = 1 - exp(-1) ~ 0.632``. A detector alarms within ``N`` bars exactly when its
    largest statistic over them exceeds its threshold ``h``, so ``P(max_N > h) = 0.632``:
    ``h`` is the ``exp(-1) ~ 0.368`` quantile of the maxima. The sentry alarms when either
    detector fires, so both thresholds are the quantiles of their maxima at ONE level, chosen
    so that the paths where either passes its threshold are ``0.632`` of all.

    Detection delay: on ``paths`` fresh series (the generator continuing) shifted by
    ``-shift_sd``, the median of the bars each detector needs to alarm, a path without an
    alarm within ``N`` bars counting as never; the smaller median of the two, NaN when
    neither is reached within ``N`` bars. Same arguments, same model, bit for bit.

    The bootstrap is centred on the sample mean: the error of ``mu`` itself (about
    ``sd / sqrt(len(returns))``) is not in the thresholds.

    Args:
        policy: The policy hash the model belongs to.
        returns: The policy's per-bar backtest returns (non-finite values are dropped).
        false_alarm_bars: Target mean bars between false alarms (>= 2).
        seed: Seed of the bootstrap (>= 0).
        ph_delta: Page-Hinkley tolerance in sd units (>= 0).
        cusum_k: CUSUM reference value in sd units (>= 0).
        paths: Bootstrap series per estimate (>= 10).
        block_bars: Bars per bootstrap block (>= 1); at least ``2 * block_bars`` finite
            returns are needed.
        shift_sd: Fall of the mean, in sd units, the detection delay is measured for (> 0).

    Raises:
        ConfigError: Naming the parameter out of range with its value, or explaining why the
            returns cannot be used.
    """
    problems = [p for name, value, low, integer in (
        ("false_alarm_bars", false_alarm_bars, 2, True), ("seed", seed, 0, True),
        ("ph_delta", ph_delta, 0, False), ("cusum_k", cusum_k, 0, False),
        ("paths", paths, 10, True), ("block_bars", block_bars, 1, True))
        for p in _out_of_range(name, value, low, integer=integer)]
    problems += _out_of_range("shift_sd", shift_sd, 0, strict=True)
    if problems:
        raise ConfigError("cannot calibrate drift detectors: " + "; ".join(problems))
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ConfigError(f"returns must be 1-D, got shape {values.shape}")
    sample = values[np.isfinite(values)]
    if sample.size < 2 * block_bars:
        raise ConfigError(f"returns hold {sample.size} finite values: the bootstrap needs at "
                          f"least 2 * block_bars = {2 * block_bars}; pass a longer backtest "
                          "or a smaller block_bars")
    mu, sd = float(sample.mean()), float(sample.std(ddof=1))
    if not (math.isfinite(sd) and sd > 0 and sample.max() > sample.min()):
        raise ConfigError(f"returns have standard deviation {sd!r} (zero when they are all "
                          "equal): a policy whose backtest returns never vary has nothing "
                          "to detect drift against")
    z = (sample - mu) / sd
    rng = np.random.default_rng(seed)
    blocks = (paths, -(-false_alarm_bars // block_bars))
    null, drifted = rng.integers(0, z.size, size=blocks), rng.integers(0, z.size, size=blocks)
    maxima = _per_path(_path_statistics(z, null, false_alarm_bars, block_bars, 0.0, ph_delta,
                                        cusum_k), lambda _, stat: stat.max(axis=1))
    # One level for both detectors, so that the two TOGETHER alarm on 1 - exp(-1) of the paths
    # (the sentry alarms when either fires): a path alarms when either maximum passes its
    # detector's quantile at that level, i.e. when the larger of its two empirical CDF values
    # does.
    ranks = [np.searchsorted(np.sort(m), m, side="left") / len(m) for m in maxima]
    level = float(np.quantile(np.maximum(*ranks), math.exp(-1.0)))
    thresholds = [float(np.quantile(m, level)) for m in maxima]
    delays = _per_path(_path_statistics(z, drifted, false_alarm_bars, block_bars, -shift_sd,
                                        ph_delta, cusum_k),
                       lambda i, stat: _first_alarm(stat, thresholds[i]))
    delay = min(float(np.median(d)) for d in delays)
    return DriftModel(policy, mu, sd, float(ph_delta), thresholds[0], float(cusum_k),
                      thresholds[1], int(false_alarm_bars),
                      delay if math.isfinite(delay) else math.nan, float(shift_sd))


def _path_statistics(z: np.ndarray, starts: np.ndarray, length: int, block: int,
                     shift: float, ph_delta: float, cusum_k: float
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The statistics of bootstrap paths of ``length`` bars, a bounded chunk of paths at a time.

    Path ``i`` is ``z`` read circularly in blocks of ``block`` bars from ``starts[i]``, plus
    ``shift``.
    """
    rows = max(1, _CHUNK // (starts.shape[1] * block))
    for first in range(0, len(starts), rows):
        index = (starts[first:first + rows, :, None] + np.arange(block)) % z.size
        yield _statistics(z[index.reshape(len(index), -1)[:, :length]] + shift, ph_delta,
                          cusum_k)


def _per_path(chunks: Iterable[tuple[np.ndarray, ...]],
              reduce: Callable[[int, np.ndarray], np.ndarray]) -> list[np.ndarray]:
    """``reduce(detector index, statistics)`` per path, for each detector, over all chunks."""
    parts = [[reduce(i, stat) for i, stat in enumerate(chunk)] for chunk in chunks]
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def _statistics(z: np.ndarray, ph_delta: float, cusum_k: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Page-Hinkley and CUSUM statistics of every bar of every row of ``z``, in closed form.

    ``PH_t = max(0, max_{s<=t} m_s) - m_t``; with ``W_t = sum_{s<=t} (-z_s - cusum_k)``,
    ``S_t = W_t - min(0, min_{s<=t} W_s)`` solves the CUSUM recursion (Lindley).
    """
    m = np.cumsum(z + ph_delta, axis=1)
    ph = np.maximum(np.maximum.accumulate(m, axis=1), 0.0) - m
    w = np.cumsum(-z - cusum_k, axis=1)
    return ph, w - np.minimum(np.minimum.accumulate(w, axis=1), 0.0)


def _first_alarm(statistic: np.ndarray, threshold: float) -> np.ndarray:
    """Bars seen at each row's first alarm (``inf`` for a row that never alarms)."""
    hit = statistic > threshold
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1.0, math.inf)


@dataclass(frozen=True, slots=True)
class DetectorState:
    """Everything :class:`DriftDetectors` needs to resume exactly where it was.

    Attributes:
        bars: Residuals seen (non-finite returns are not counted).
        ph_sum: The Page-Hinkley cumulative sum ``m_t``.
        ph_max: Its running maximum ``M_t`` (>= 0 and >= ``ph_sum``).
        cusum: The lower CUSUM ``S_t`` (>= 0).
        alarmed: The detectors that already fired (latched), in firing order.
    """

    bars: int = 0
    ph_sum: float = 0.0
    ph_max: float = 0.0
    cusum: float = 0.0
    alarmed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DriftAlarm:
    """A detector firing.

    Attributes:
        detector: One of :data:`DETECTORS`.
        statistic: Its statistic on the bar it fired.
        threshold: The threshold it exceeded.
        bars: Residuals seen when it fired.
    """

    detector: str
    statistic: float
    threshold: float
    bars: int


class DriftDetectors:
    """Page-Hinkley and lower CUSUM on a policy's live returns, one bar at a time.

    Each detector is latched: it fires once, then never again for this object (its statistic
    keeps updating); the caller starts over with a new object after acting on an alarm.

    Args:
        model: The policy's calibrated model.
        state: Where to resume (default: the start, nothing seen).

    Raises:
        ConfigError: If ``state`` cannot come from a run of the detectors.
    """

    def __init__(self, model: DriftModel, state: DetectorState | None = None) -> None:
        state = state if state is not None else DetectorState()
        _check_state(state)
        self._model = model
        self._bars, self._alarmed = int(state.bars), tuple(state.alarmed)
        self._ph_sum, self._ph_max = float(state.ph_sum), float(state.ph_max)
        self._cusum = float(state.cusum)

    @property
    def model(self) -> DriftModel:
        """The model the detectors run with."""
        return self._model

    @property
    def state(self) -> DetectorState:
        """The detectors' state; ``DriftDetectors(model, state)`` resumes from it bit for bit."""
        return DetectorState(self._bars, self._ph_sum, self._ph_max, self._cusum, self._alarmed)

    def update(self, r: float) -> list[DriftAlarm]:
        """Feed one live per-bar return ``r``; the alarms firing on this bar, in order.

        A non-finite ``r`` (a bar without a return) is ignored: no state change, no alarm.

        Raises:
            TypeError, ValueError: ``r`` is not a number.
        """
        model, value = self._model, float(r)
        if not math.isfinite(value):
            return []
        z = (value - model.mean) / model.std
        self._bars += 1
        self._ph_sum += z + model.ph_delta
        self._ph_max = max(self._ph_max, self._ph_sum)
        self._cusum = max(0.0, self._cusum - z - model.cusum_k)
        alarms = []
        for name, statistic, threshold in (
                ("page_hinkley", self._ph_max - self._ph_sum, model.ph_threshold),
                ("cusum", self._cusum, model.cusum_threshold)):
            if name not in self._alarmed and statistic > threshold:
                alarms.append(DriftAlarm(name, statistic, threshold, self._bars))
                self._alarmed += (name,)
        return alarms


def _check_state(state: DetectorState) -> None:
    """Raise ConfigError unless ``state`` can come from a run of the detectors."""
    problems = []
    if not (_is_int(state.bars) and state.bars >= 0):
        problems.append(f"bars = {state.bars!r} must be an integer >= 0")
    sums = (state.ph_sum, state.ph_max, state.cusum)
    if not (all(_is_finite(v) for v in sums) and state.ph_max >= max(0.0, state.ph_sum)
            and state.cusum >= 0):
        problems.append("ph_sum = {!r}, ph_max = {!r}, cusum = {!r} must be finite with "
                        "ph_max >= max(0, ph_sum) and cusum >= 0".format(*sums))
    alarmed = tuple(state.alarmed)
    if len(set(alarmed)) != len(alarmed) or not set(alarmed) <= set(DETECTORS):
        problems.append(f"alarmed = {alarmed!r} must name distinct detectors of {DETECTORS}")
    if problems:
        raise ConfigError("invalid DetectorState: " + "; ".join(problems))
