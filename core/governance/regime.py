"""Market regimes from closes: a rule-based state machine with hysteresis (pure).

Every bar is labelled one of :data:`REGIMES` from two features of the closes up to and
including it, never later ones:

* volatility ratio ``vol_t / median(vol)``: ``vol_t`` is the sample standard deviation
  (ddof=1) of the last ``vol_window`` log returns, the median runs over the last
  ``baseline_window`` values of that series, the current one included;
* trend strength ``(log close_t - log close_{t-w}) / (vol_t * sqrt(w))`` with
  ``w = trend_window``: a t-statistic of the drift over the window.

Warm-up: a bar has features once ``RegimeRules.warmup = max(trend_window, vol_window) + 1``
closes have been seen; the bars before are ``"unknown"`` with NaN features and confidence 0.
Until ``baseline_window`` volatility values exist, the baseline is the median of all of them
(at least ``warmup - vol_window`` at the first labelled bar).

Transitions: a trend is entered at ``|strength| >= trend_enter`` (its sign gives up or down)
and held while the strength in its direction stays ``>= trend_exit``; a strength beyond
``trend_enter`` the other way flips it. The volatility flag, updated on every labelled bar,
turns on at ``ratio >= vol_enter`` and off at ``ratio < vol_exit``. A bar not in a trend is
``"range_volatile"`` when the flag is on, else ``"range_calm"``. Leaving the warm-up is a
transition too (from ``"unknown"``).

Confidence: with ``u(x) = clip((x - exit) / (enter - exit), 0, 1)`` of a feature against its
own thresholds (0 at the exit threshold, 1 at or beyond the enter threshold), a trend has
``u(|strength|)``; ``"range_volatile"`` has ``min(u(ratio), 1 - u(|strength|))`` and
``"range_calm"`` ``min(1 - u(ratio), 1 - u(|strength|))``: the weakest condition of the state.

Zero volatility: a strength of ``0 / 0`` is 0 and ``x / 0`` is ``+-inf``; a ratio of
``0 / 0`` is 1 and ``x / 0`` is ``inf``.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.errors import ConfigError

REGIMES: tuple[str, ...] = ("trend_up", "trend_down", "range_calm", "range_volatile")
"""The regimes, in the order of their codes in :attr:`RegimePath.labels`."""
UNKNOWN = "unknown"
"""The label of warm-up bars (code -1)."""
_CODES = {name: code for code, name in enumerate(REGIMES)} | {UNKNOWN: -1}
_DIRECTION = {"trend_up": 1, "trend_down": -1}


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite(value: object) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


@dataclass(frozen=True, slots=True)
class RegimeRules:
    """Windows and thresholds of the regime machine (defaults suit 1h bars).

    Attributes:
        vol_window: Log returns in the current volatility (>= 2).
        baseline_window: Current-volatility values whose median is the baseline
            (>= vol_window).
        trend_window: Bars spanned by the trend strength (>= 2).
        vol_enter: Volatility ratio at or above which the volatile flag turns on.
        vol_exit: Volatility ratio below which it turns off (0 < vol_exit < vol_enter).
        trend_enter: ``|strength|`` at or above which a trend is entered.
        trend_exit: Strength below which a trend is left (0 < trend_exit < trend_enter).

    Raises:
        ConfigError: Naming every parameter out of range, with its value.
    """

    vol_window: int = 24
    baseline_window: int = 720
    trend_window: int = 72
    vol_enter: float = 1.5
    vol_exit: float = 1.2
    trend_enter: float = 2.0
    trend_exit: float = 1.0

    def __post_init__(self) -> None:
        problems = [f"{name} = {getattr(self, name)!r} must be an integer >= 2"
                    for name in ("vol_window", "baseline_window", "trend_window")
                    if not (_is_int(getattr(self, name)) and getattr(self, name) >= 2)]
        if not problems and self.baseline_window < self.vol_window:
            problems.append(f"baseline_window = {self.baseline_window} must be >= "
                            f"vol_window = {self.vol_window}")
        for kind in ("vol", "trend"):
            enter, leave = getattr(self, f"{kind}_enter"), getattr(self, f"{kind}_exit")
            if not (_is_finite(enter) and _is_finite(leave)):
                problems += [f"{kind}_{side} = {value!r} must be a finite number"
                             for side, value in (("enter", enter), ("exit", leave))
                             if not _is_finite(value)]
            elif not 0 < leave < enter:
                problems.append(f"{kind}_exit = {leave!r} and {kind}_enter = {enter!r} must "
                                f"satisfy 0 < {kind}_exit < {kind}_enter")
        if problems:
            raise ConfigError("invalid RegimeRules: " + "; ".join(problems))

    @property
    def warmup(self) -> int:
        """Closes needed before the first labelled bar: ``max(trend, vol window) + 1``."""
        return max(self.trend_window, self.vol_window) + 1


@dataclass(frozen=True, slots=True)
class RegimeTransition:
    """A change of regime and the features of the bar that caused it.

    Attributes:
        ts: Time of the bar where the new regime starts.
        from_regime: The regime before (``"unknown"`` when leaving the warm-up).
        to_regime: The regime from this bar on.
        features: ``vol_ratio`` and ``trend_strength`` at that bar.
    """

    ts: int
    from_regime: str
    to_regime: str
    features: dict[str, float]


@dataclass(frozen=True, slots=True)
class RegimeReading:
    """The regime of one bar.

    Attributes:
        ts: The bar's time.
        regime: One of :data:`REGIMES`, or ``"unknown"`` during the warm-up.
        confidence: In [0, 1]; 0 when unknown (formula in the module docstring).
        features: ``vol_ratio`` and ``trend_strength`` (NaN during the warm-up).
        transition: Set on the bar where the regime changed, else None.
    """

    ts: int
    regime: str
    confidence: float
    features: dict[str, float]
    transition: RegimeTransition | None = None


@dataclass(frozen=True, slots=True)
class RegimeFSMState:
    """Everything a :class:`RegimeFSM` needs to resume exactly where it was.

    Attributes:
        closes: The last ``warmup`` closes at most, oldest first.
        vols: The last ``baseline_window`` current-volatility values at most, oldest first.
        last_ts: Time of the last bar, None before the first.
        regime: The regime of the last bar.
        volatile: The volatility flag.
    """

    closes: tuple[float, ...]
    vols: tuple[float, ...]
    last_ts: int | None
    regime: str
    volatile: bool


class RegimeFSM:
    """Streaming regime labelling, one close at a time, with bounded state.

    Args:
        rules: Windows and thresholds (default: :class:`RegimeRules`).
    """

    def __init__(self, rules: RegimeRules | None = None) -> None:
        self._rules = rules if rules is not None else RegimeRules()
        self._closes: deque[float] = deque(maxlen=self._rules.warmup)
        self._logs: deque[float] = deque(maxlen=self._rules.warmup)
        self._returns: deque[float] = deque(maxlen=self._rules.vol_window)
        self._vols: deque[float] = deque(maxlen=self._rules.baseline_window)
        self._sorted_vols: list[float] = []
        self._last_ts: int | None = None
        self._regime = UNKNOWN
        self._volatile = False

    @property
    def rules(self) -> RegimeRules:
        """The machine's rules."""
        return self._rules

    def update(self, close: float, ts: int) -> RegimeReading:
        """Label the bar that closed at ``close``.

        Args:
            close: The bar's close (positive, finite).
            ts: The bar's time, after the previous bar's.

        Returns:
            The bar's reading.

        Raises:
            ValueError: On a non-finite or non-positive close, or a time not after the last
                one; the machine is left unchanged.
        """
        ts = int(ts)
        if not (_is_finite(close) and close > 0):
            raise ValueError(f"close at ts {ts} must be positive and finite, got {close!r}")
        if self._last_ts is not None and ts <= self._last_ts:
            raise ValueError(f"bar at ts {ts} does not come after the last bar at "
                             f"ts {self._last_ts}")
        self._last_ts = ts
        self._push(float(close))
        if len(self._closes) < self._rules.warmup:
            return RegimeReading(ts, UNKNOWN, 0.0, _features(math.nan, math.nan))
        ratio, strength = self._features()
        rules = self._rules
        self._volatile = ratio >= (rules.vol_exit if self._volatile else rules.vol_enter)
        before, self._regime = self._regime, self._next_regime(strength)
        features = _features(ratio, strength)
        transition = None
        if self._regime != before:
            transition = RegimeTransition(ts, before, self._regime, dict(features))
        return RegimeReading(ts, self._regime, self._confidence(ratio, strength), features,
                             transition)

    def snapshot(self) -> RegimeFSMState:
        """The machine's state; :meth:`restore` resumes from it bit for bit."""
        return RegimeFSMState(tuple(self._closes), tuple(self._vols), self._last_ts,
                              self._regime, self._volatile)

    @classmethod
    def restore(cls, rules: RegimeRules, state: RegimeFSMState) -> RegimeFSM:
        """Rebuild a machine from :meth:`snapshot`; it continues as if never interrupted.

        Args:
            rules: The rules the snapshot was taken under.
            state: The snapshot.

        Raises:
            ConfigError: If the state cannot come from a machine with these rules.
        """
        _check_state(rules, state)
        machine = cls(rules)
        for close in state.closes:
            machine._push_close(close)
        machine._vols.extend(state.vols)
        machine._sorted_vols = sorted(state.vols)
        machine._last_ts, machine._regime = state.last_ts, state.regime
        machine._volatile = state.volatile
        return machine

    def _push_close(self, close: float) -> None:
        log_close = math.log(close)
        if self._logs:
            self._returns.append(log_close - self._logs[-1])
        self._closes.append(close)
        self._logs.append(log_close)

    def _push(self, close: float) -> None:
        self._push_close(close)
        if len(self._returns) < self._rules.vol_window:
            return
        vol = _std(self._returns)
        if len(self._vols) == self._vols.maxlen:
            del self._sorted_vols[bisect.bisect_left(self._sorted_vols, self._vols[0])]
        self._vols.append(vol)
        bisect.insort(self._sorted_vols, vol)

    def _features(self) -> tuple[float, float]:
        """``(vol_ratio, trend_strength)`` of the last bar."""
        window = self._rules.trend_window
        vol, ranked = self._vols[-1], self._sorted_vols
        middle = len(ranked) // 2
        baseline = ranked[middle] if len(ranked) % 2 else (ranked[middle - 1] + ranked[middle]) / 2
        drift = self._logs[-1] - self._logs[-1 - window]
        return (_divide(vol, baseline, zero_by_zero=1.0),
                _divide(drift, vol * math.sqrt(window), zero_by_zero=0.0))

    def _next_regime(self, strength: float) -> str:
        rules, held = self._rules, _DIRECTION.get(self._regime, 0)
        if strength >= rules.trend_enter or (held == 1 and strength >= rules.trend_exit):
            return "trend_up"
        if strength <= -rules.trend_enter or (held == -1 and strength <= -rules.trend_exit):
            return "trend_down"
        return "range_volatile" if self._volatile else "range_calm"

    def _confidence(self, ratio: float, strength: float) -> float:
        rules = self._rules
        trend = _unit((abs(strength) - rules.trend_exit) / (rules.trend_enter - rules.trend_exit))
        if self._regime in _DIRECTION:
            return trend
        volatile = _unit((ratio - rules.vol_exit) / (rules.vol_enter - rules.vol_exit))
        if self._regime == "range_volatile":
            return min(volatile, 1.0 - trend)
        return min(1.0 - volatile, 1.0 - trend)


def _features(ratio: float, strength: float) -> dict[str, float]:
    return {"vol_ratio": ratio, "trend_strength": strength}


def _std(values: Iterable[float]) -> float:
    """Sample standard deviation (ddof=1), correctly rounded sums: independent of history."""
    sample = tuple(values)
    mean = math.fsum(sample) / len(sample)
    return math.sqrt(math.fsum((x - mean) ** 2 for x in sample) / (len(sample) - 1))


def _divide(num: float, den: float, *, zero_by_zero: float) -> float:
    if den != 0.0:
        return num / den
    return zero_by_zero if num == 0.0 else math.copysign(math.inf, num)


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def _check_state(rules: RegimeRules, state: RegimeFSMState) -> None:
    """Raise ConfigError unless ``state`` can come from a machine with ``rules``."""
    n, vols, warmup, window = len(state.closes), len(state.vols), rules.warmup, rules.vol_window
    low, high = ((max(0, n - window),) * 2 if n < warmup
                 else (warmup - window, rules.baseline_window))
    problems = []
    if n > warmup:
        problems.append(f"{n} closes but these rules keep at most {warmup}")
    elif not low <= vols <= high:
        problems.append(f"{vols} volatility values after {n} closes, expected {low}..{high}")
    if not (all(_is_finite(c) and c > 0 for c in state.closes)
            and all(_is_finite(v) and v >= 0 for v in state.vols)):
        problems.append("closes must be positive and finite, volatility values finite and >= 0")
    if state.regime not in _CODES or (state.regime == UNKNOWN) != (n < warmup):
        problems.append(f"regime {state.regime!r} cannot follow {n} closes (warm-up {warmup})")
    if state.regime in REGIMES[2:] and state.volatile != (state.regime == "range_volatile"):
        problems.append(f"regime {state.regime!r} with volatile = {state.volatile}")
    if (state.last_ts is None) != (n == 0):
        problems.append(f"last_ts {state.last_ts} with {n} closes")
    if problems:
        raise ConfigError("cannot restore RegimeFSM: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class RegimePath:
    """The regimes of a whole series.

    Attributes:
        ts: Bar times (int64).
        labels: Regime codes (int8): index into :data:`REGIMES`, -1 for unknown.
        confidence: Confidence per bar (float64).
        transitions: Every change of regime, in time order.
    """

    ts: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    transitions: tuple[RegimeTransition, ...]

    def names(self) -> np.ndarray:
        """The regime name of every bar (``"unknown"`` for code -1)."""
        return np.array((*REGIMES, UNKNOWN))[self.labels]


def label_regimes(ts: np.ndarray, close: np.ndarray, rules: RegimeRules) -> RegimePath:
    """Label a whole series exactly as a :class:`RegimeFSM` fed bar by bar would.

    Args:
        ts: Bar times, strictly increasing.
        close: Closes, positive and finite.
        rules: Windows and thresholds.

    Raises:
        ValueError: On shapes that are not equal and 1-D, or a bad close or time.
    """
    times = np.asarray(ts, dtype=np.int64)
    prices = np.asarray(close, dtype=np.float64)
    if times.ndim != 1 or times.shape != prices.shape:
        raise ValueError(f"ts {times.shape} and close {prices.shape} must be 1-D and equal")
    machine = RegimeFSM(rules)
    labels = np.empty(len(times), dtype=np.int8)
    confidence = np.empty(len(times), dtype=np.float64)
    transitions = []
    for i, (t, price) in enumerate(zip(times.tolist(), prices.tolist(), strict=True)):
        reading = machine.update(price, t)
        labels[i], confidence[i] = _CODES[reading.regime], reading.confidence
        if reading.transition is not None:
            transitions.append(reading.transition)
    return RegimePath(times, labels, confidence, tuple(transitions))


@dataclass(frozen=True, slots=True)
class RegimeScore:
    """How a strategy did in one regime.

    Attributes:
        regime: One of :data:`REGIMES`.
        bars: Bars labelled with it.
        mean: Mean per-bar return over them (NaN without bars).
        score: Per-bar Sharpe ``mean / std`` (ddof=1); NaN with fewer than ``min_bars``
            bars or when every return is equal.
    """

    regime: str
    bars: int
    mean: float
    score: float


@dataclass(frozen=True, slots=True)
class RegimeGrid:
    """A strategy's score in every regime.

    Attributes:
        scores: Regime name -> its score, in the order of :data:`REGIMES`.
    """

    scores: dict[str, RegimeScore]

    @property
    def measured(self) -> int:
        """Regimes with a finite score."""
        return sum(math.isfinite(s.score) for s in self.scores.values())

    @property
    def positive(self) -> int:
        """Regimes with a finite score > 0."""
        return sum(math.isfinite(s.score) and s.score > 0 for s in self.scores.values())

    def passes(self, k: int) -> bool:
        """Whether the strategy scores above 0 in at least ``k`` regimes."""
        return self.positive >= k


def regime_grid(returns: np.ndarray, labels: np.ndarray, *, min_bars: int = 30) -> RegimeGrid:
    """Score a strategy's per-bar returns in each regime (unknown bars are ignored).

    Args:
        returns: ``returns[i]`` is the return earned over bar ``i``.
        labels: Regime codes aligned with ``returns`` (:attr:`RegimePath.labels`).
        min_bars: Fewest bars a regime needs for a score (>= 2).

    Raises:
        ValueError: On unequal or non-1-D shapes, non-integer or unknown codes, a
            non-finite return on a labelled bar, or ``min_bars`` < 2.
    """
    values = np.asarray(returns, dtype=np.float64)
    codes = np.asarray(labels)
    if values.ndim != 1 or values.shape != codes.shape:
        raise ValueError(f"returns {values.shape} and labels {codes.shape} must be 1-D and "
                         "equal")
    if not (_is_int(min_bars) and min_bars >= 2):
        raise ValueError(f"min_bars = {min_bars!r} must be an integer >= 2")
    if not np.issubdtype(codes.dtype, np.integer) or (
            codes.size and not -1 <= codes.min() <= codes.max() < len(REGIMES)):
        raise ValueError(f"labels must be integer codes in -1..{len(REGIMES) - 1} "
                         "(RegimePath.labels)")
    broken = np.flatnonzero((codes >= 0) & ~np.isfinite(values))
    if broken.size:
        raise ValueError(f"return at index {broken[0]} is {values[broken[0]]} on a labelled bar")
    scores = {}
    for code, name in enumerate(REGIMES):
        sample = values[codes == code]
        mean = float(sample.mean()) if sample.size else math.nan
        score = math.nan
        if sample.size >= min_bars and sample.max() > sample.min():
            score = mean / float(sample.std(ddof=1))
        scores[name] = RegimeScore(name, int(sample.size), mean, score)
    return RegimeGrid(scores)
