"""Circuit breakers: equity-driven ones scanned with numpy, and event-driven ones.

:class:`EquityBreakers` is the immutable state of the breakers that watch the equity curve;
:meth:`EquityBreakers.advance` consumes bars until (and including) the first bar where one of
them trips or resets, so the caller can change the trading state exactly at that bar.

Breakers and their reason codes:

- ``drawdown_halt``: drawdown from the running equity peak reaches the halt level (the
  HALTED drawdown stage or the profile's ``max_drawdown_halt_pct``, whichever is lower).
  Latched: HALTED for the rest of the session (see ``RiskEngine.reset_halt``).
- ``drawdown_reducing`` / ``drawdown_recovered``: drawdown crosses the REDUCING stage level
  upwards / back downwards. Not latched: REDUCING while the drawdown is at or past it.
- ``daily_loss_halt`` / ``daily_loss_halt_reset``: loss since the UTC day start (equity at the
  close of the previous day's last bar) reaches ``daily_loss_halt_pct``. HALTED until the first
  bar of the next UTC day when ``daily_loss_resets_next_day`` (else latched like a halt).
- ``daily_drawdown_cut`` / ``daily_drawdown_cut_end``: drawdown from the intraday equity peak
  reaches ``daily_drawdown_cut_pct``: REDUCING until ``cooldown_minutes`` after the tripping
  bar; at the end the intraday peak restarts from the equity of that bar.

:class:`ManualBreakers` holds the event-driven ones: ``consecutive_rejects`` (latched halt),
``stale_data`` per symbol and the kill switch (``kill_switch:<source>``, latched).

A level is reached when ``equity <= reference * (1 - pct / 100)``. Days are
``ts // 86_400_000`` of the bar open times: no wall clock is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.errors import DataValidationError
from core.trading.breaker_scan import scan_breakers

DAY_MS = 86_400_000
"""Length of a UTC day, ms."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The breaker levels in force, resolved from the risk profile and the guardian config.

    Attributes:
        reducing_pct: Drawdown from the peak that enters REDUCING, %, or None.
        halt_pct: Drawdown from the peak that halts, %, or None.
        daily_loss_pct: Loss since the UTC day start that halts, %, or None.
        daily_cut_pct: Intraday drawdown that cuts new risk, %, or None.
        cooldown_ms: How long a daily cut lasts, ms.
        daily_loss_resets: Whether the daily-loss halt lifts at the next UTC day.
    """

    reducing_pct: float | None
    halt_pct: float | None
    daily_loss_pct: float | None
    daily_cut_pct: float | None
    cooldown_ms: int
    daily_loss_resets: bool

    @classmethod
    def resolve(cls, limits: RiskLimits, guardian: GuardianConfig) -> Thresholds:
        """Combine the effective risk limits with the guardian's drawdown stages."""
        halts = [p for p in (guardian.halted_pct(), limits.max_drawdown_halt_pct) if p]
        halt = min(halts) if halts else None
        reducing = guardian.reducing_pct()
        if reducing is not None and halt is not None and reducing >= halt:
            reducing = None  # the halt comes first; the stage can never matter
        return cls(
            reducing_pct=reducing,
            halt_pct=halt,
            daily_loss_pct=limits.daily_loss_halt_pct,
            daily_cut_pct=limits.daily_drawdown_cut_pct,
            cooldown_ms=int(limits.cooldown_minutes or 0) * 60_000,
            daily_loss_resets=guardian.daily_loss_resets_next_day,
        )


@dataclass(frozen=True, slots=True)
class Trip:
    """A breaker tripping or resetting at one bar.

    Attributes:
        index: Index of the bar in the arrays given to :meth:`EquityBreakers.advance`.
        reason: Stable code (see the module docstring).
        detail: The numbers behind it.
    """

    index: int
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class EquityBreakers:
    """State of the equity-driven breakers after the last observed bar.

    Attributes:
        peak: Running equity peak (starts at the initial equity).
        last_equity: Equity at the close of the last observed bar.
        last_ts: Open time of the last observed bar, or None before any.
        day: UTC day index (``ts // DAY_MS``) of the last observed bar, or None.
        day_start: Equity at the start of that UTC day.
        day_peak: Intraday equity peak (restarted after a daily cut's cooldown).
        reducing: True while the drawdown is at or past the REDUCING stage.
        drawdown_halted: Latched drawdown halt.
        daily_halted: True while the daily-loss halt holds.
        cut_until: End (ms) of the running daily cut's cooldown, or None.
    """

    peak: float
    last_equity: float
    last_ts: int | None = None
    day: int | None = None
    day_start: float = 0.0
    day_peak: float = 0.0
    reducing: bool = False
    drawdown_halted: bool = False
    daily_halted: bool = False
    cut_until: int | None = None

    @classmethod
    def start(cls, initial_equity: float) -> EquityBreakers:
        """Fresh breakers of a session starting with ``initial_equity``."""
        return cls(peak=initial_equity, last_equity=initial_equity, day_start=initial_equity,
                   day_peak=initial_equity)

    @property
    def halted(self) -> bool:
        """True when a breaker of this group holds trading HALTED."""
        return self.drawdown_halted or self.daily_halted

    @property
    def reducing_now(self) -> bool:
        """True when a breaker of this group holds trading REDUCING."""
        return self.reducing or self.cut_until is not None

    def rebased(self) -> EquityBreakers:
        """Clear every latch and restart peaks from the last equity (operator reset)."""
        return replace(self, peak=self.last_equity, day_peak=self.last_equity, reducing=False,
                       drawdown_halted=False, daily_halted=False, cut_until=None)

    def advance(self, th: Thresholds, ts: np.ndarray, equity: np.ndarray, start: int
                ) -> tuple[EquityBreakers, int, list[Trip]]:
        """Consume bars from ``start`` up to and including the first bar where a breaker moves.

        Args:
            th: Levels in force.
            ts: Bar open times (int64, strictly increasing, after ``last_ts``).
            equity: Equity at each bar's close (finite).
            start: First bar to consume.

        Returns:
            ``(state after the consumed bars, index after the last consumed bar, trips of that
            bar)``; without any trip every bar is consumed and the list is empty.
        """
        state, i, n = self, start, len(ts)
        while i < n:
            state, i = state._scan(th, ts, equity, i)
            if i >= n:
                break
            state, trips = state._roll_day(th, int(ts[i]), i)
            found = state._first_move(th, ts[i:i + 1], equity[i:i + 1])
            first = 0 if trips else found
            if first is None:
                state = state._consume(ts[i:i + 1], equity[i:i + 1], 0)
                i += 1
                continue
            state, more = state._apply(th, ts[i:i + 1], equity[i:i + 1], 0, i)
            return state, i + 1, trips + more
        return state, n, []

    def _scan(self, th: Thresholds, ts: np.ndarray, equity: np.ndarray, start: int
              ) -> tuple[EquityBreakers, int]:
        """Consume bars from ``start`` up to the first one where a breaker may move."""
        k, error, row, peak, day_peak, day, has_day, day_start, last_equity, last_ts = \
            scan_breakers(ts, equity, start, self.last_ts if self.last_ts is not None else 0,
                          self.last_ts is not None, self.peak, self.day_peak,
                          self.day if self.day is not None else 0, self.day is not None,
                          self.day_start, self.last_equity, self.reducing,
                          self.drawdown_halted, self.daily_halted,
                          self.cut_until if self.cut_until is not None else 0,
                          self.cut_until is not None, *_multiplier(th.halt_pct),
                          *_multiplier(th.reducing_pct), *_multiplier(th.daily_loss_pct),
                          *_multiplier(th.daily_cut_pct), th.daily_loss_resets)
        if error:
            checked_equity(ts[start:], equity[start:], self.last_ts)  # raises with the message
        if k == start:
            return self, k
        return replace(self, peak=float(peak), day_peak=float(day_peak), day=int(day),
                       day_start=float(day_start), last_equity=float(last_equity),
                       last_ts=int(last_ts)), k

    def _roll_day(self, th: Thresholds, ts: int, index: int) -> tuple[EquityBreakers, list[Trip]]:
        day = ts // DAY_MS
        if self.day == day:
            return self, []
        state = replace(self, day=day, day_start=self.last_equity, day_peak=self.last_equity)
        if self.day is None or not (self.daily_halted and th.daily_loss_resets):
            return state, []
        trip = Trip(index, "daily_loss_halt_reset", f"new UTC day {day}; day start equity "
                                                    f"{self.last_equity:.2f}")
        return replace(state, daily_halted=False), [trip]

    def _series(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        peak = np.maximum.accumulate(np.concatenate(([self.peak], e)))[1:]
        day_peak = np.maximum.accumulate(np.concatenate(([self.day_peak], e)))[1:]
        return peak, day_peak

    def _first_move(self, th: Thresholds, t: np.ndarray, e: np.ndarray) -> int | None:
        """Index of the first bar of one UTC day where a breaker trips or resets."""
        peak, day_peak = self._series(e)
        hits: list[np.ndarray] = []
        if th.halt_pct is not None and not self.drawdown_halted:
            hits.append(e <= peak * (1.0 - th.halt_pct / 100.0))
        if th.reducing_pct is not None and not self.drawdown_halted:
            hits.append((e <= peak * (1.0 - th.reducing_pct / 100.0)) != self.reducing)
        if th.daily_loss_pct is not None and not self.daily_halted:
            hits.append(e <= self.day_start * (1.0 - th.daily_loss_pct / 100.0))
        if self.cut_until is not None:
            hits.append(t >= self.cut_until)
        elif th.daily_cut_pct is not None:
            hits.append(e <= day_peak * (1.0 - th.daily_cut_pct / 100.0))
        firsts = [int(np.argmax(h)) for h in hits if h.any()]
        return min(firsts) if firsts else None

    def _consume(self, t: np.ndarray, e: np.ndarray, last: int) -> EquityBreakers:
        peak, day_peak = self._series(e[: last + 1])
        return replace(self, peak=float(peak[-1]), day_peak=float(day_peak[-1]),
                       last_equity=float(e[last]), last_ts=int(t[last]))

    def _apply(self, th: Thresholds, t: np.ndarray, e: np.ndarray, f: int, offset: int
               ) -> tuple[EquityBreakers, list[Trip]]:
        """Consume bars ``[0, f]`` of one day and apply every move happening at bar ``f``."""
        state = self._consume(t, e, f)
        eq, ts, at = float(e[f]), int(t[f]), offset + f
        trips: list[Trip] = []
        drawdown = 100.0 * (1.0 - eq / state.peak) if state.peak > 0 else 100.0
        if th.halt_pct is not None and not state.drawdown_halted \
                and eq <= state.peak * (1.0 - th.halt_pct / 100.0):
            state = replace(state, drawdown_halted=True)
            trips.append(Trip(at, "drawdown_halt", f"drawdown {drawdown:.2f}% >= "
                              f"{th.halt_pct:g}% (equity {eq:.2f}, peak {state.peak:.2f})"))
        if th.reducing_pct is not None and not state.drawdown_halted:
            past = eq <= state.peak * (1.0 - th.reducing_pct / 100.0)
            if past != state.reducing:
                state = replace(state, reducing=past)
                word = ">=" if past else "<"
                trips.append(Trip(at, "drawdown_reducing" if past else "drawdown_recovered",
                                  f"drawdown {drawdown:.2f}% {word} {th.reducing_pct:g}% "
                                  f"(equity {eq:.2f}, peak {state.peak:.2f})"))
        if th.daily_loss_pct is not None and not state.daily_halted \
                and eq <= state.day_start * (1.0 - th.daily_loss_pct / 100.0):
            state = replace(state, daily_halted=True)
            loss = 100.0 * (1.0 - eq / state.day_start) if state.day_start > 0 else 100.0
            trips.append(Trip(at, "daily_loss_halt", f"loss since day start {loss:.2f}% >= "
                              f"{th.daily_loss_pct:g}% (equity {eq:.2f}, day start "
                              f"{state.day_start:.2f})"))
        if state.cut_until is not None:
            if ts >= state.cut_until:
                state = replace(state, cut_until=None, day_peak=eq)
                trips.append(Trip(at, "daily_drawdown_cut_end",
                                  f"cooldown over; intraday peak restarts at {eq:.2f}"))
        elif th.daily_cut_pct is not None \
                and eq <= state.day_peak * (1.0 - th.daily_cut_pct / 100.0):
            cut = 100.0 * (1.0 - eq / state.day_peak) if state.day_peak > 0 else 100.0
            state = replace(state, cut_until=ts + th.cooldown_ms)
            trips.append(Trip(at, "daily_drawdown_cut", f"intraday drawdown {cut:.2f}% >= "
                              f"{th.daily_cut_pct:g}% (equity {eq:.2f}, intraday peak "
                              f"{state.day_peak:.2f}); reducing until {ts + th.cooldown_ms}"))
        return state, trips


@dataclass(frozen=True, slots=True)
class ManualBreakers:
    """Breakers driven by events rather than equity: venue rejects, stale data, kill switch.

    Attributes:
        kill_switch: Source of the engaged kill switch (latched until released), or None.
        rejects_halted: Latched ``consecutive_rejects`` halt.
        consecutive_rejects: Venue rejects since the last fill.
        stale: ``(symbol, ts, reason)`` of every stale symbol, sorted by symbol.
    """

    kill_switch: str | None = None
    rejects_halted: bool = False
    consecutive_rejects: int = 0
    stale: tuple[tuple[str, int, str], ...] = ()

    @property
    def halted(self) -> bool:
        """True when the kill switch or the reject breaker holds trading HALTED."""
        return self.kill_switch is not None or self.rejects_halted

    def stale_since(self, symbol: str) -> tuple[int, str] | None:
        """``(ts, reason)`` of a stale symbol's marking, None if it is not stale."""
        return next(((ts, why) for s, ts, why in self.stale if s == symbol), None)

    def with_stale(self, symbol: str, ts: int | None, reason: str = "") -> ManualBreakers:
        """Mark ``symbol`` stale at ``ts`` (None: clear it)."""
        kept = [item for item in self.stale if item[0] != symbol]
        if ts is not None:
            kept.append((symbol, int(ts), reason))
        return replace(self, stale=tuple(sorted(kept)))

    def rejected(self, limit: int) -> tuple[ManualBreakers, bool]:
        """Count a reject; also return whether this one trips the (latched) halt."""
        count = self.consecutive_rejects + 1
        trips = not self.rejects_halted and count >= limit
        return replace(self, consecutive_rejects=count,
                       rejects_halted=self.rejects_halted or trips), trips


def stale_changes(now_ms: int, last_bar_ts: Mapping[str, int], timeframe_ms: int,
                  stale_bars: int, stale: set[str]) -> list[tuple[str, bool, str]]:
    """Symbols whose staleness changes: ``(symbol, now stale?, why)``, sorted by symbol.

    A symbol is stale when ``now_ms > last_bar_ts + timeframe_ms * (1 + stale_bars)``: its
    newest bar closed more than ``stale_bars`` bar lengths ago.
    """
    allowed = timeframe_ms * (1 + stale_bars)
    changes = []
    for symbol, last in sorted(last_bar_ts.items()):
        age = now_ms - last
        if (age > allowed) != (symbol in stale):
            changes.append((symbol, age > allowed, f"newest bar {last} is {age} ms old "
                                                   f"({'>' if age > allowed else '<='} "
                                                   f"{allowed} ms)"))
    return changes


def _multiplier(pct: float | None) -> tuple[float, bool]:
    """``(1 - pct / 100, set?)``: the factor every level comparison uses."""
    return (1.0 - pct / 100.0, True) if pct is not None else (1.0, False)


def checked_equity(ts: np.ndarray, equity: np.ndarray, last_ts: int | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``ts`` as int64 and ``equity`` as float64 after the sanity checks of the breakers.

    Raises:
        DataValidationError: On mismatched shapes, non-finite equity, or bar times that are
            not strictly increasing or not after ``last_ts``.
    """
    t = np.asarray(ts, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    source = "RiskEngine.observe"
    if t.ndim != 1 or t.shape != e.shape:
        raise DataValidationError(f"ts {t.shape} and equity {e.shape} must be 1-D and equally "
                                  "long", source=source)
    bad = np.flatnonzero(~np.isfinite(e))
    if bad.size:
        row = int(bad[0])
        raise DataValidationError(f"equity is not finite ({e[row]!r})", source=source, row=row,
                                  timestamp_ms=int(t[row]))
    prev = np.concatenate(([np.iinfo(np.int64).min if last_ts is None else last_ts], t[:-1]))
    back = np.flatnonzero(t <= prev)
    if back.size:
        row = int(back[0])
        raise DataValidationError(f"time went backwards: bar {int(t[row])} is not after "
                                  f"{int(prev[row])}", source=source, row=row,
                                  timestamp_ms=int(t[row]))
    return t, e
