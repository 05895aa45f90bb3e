"""The risk engine: pre-trade invariants, circuit breakers and the trading state.

:class:`RiskEngine` implements the ``RiskGate`` protocol of ``core.trading.trader``: ``check``
judges one :class:`OrderRequest`, ``observe`` feeds the equity curve to the breakers and
``state`` is the :class:`TradingState` in force. It is pure (no clock, no I/O); the guardian
actor feeds it bars, venue rejects, stale-data marks and kill-switch triggers, and checkpoints
it with :meth:`RiskEngine.to_state` / :meth:`RiskEngine.from_state`.

Denial reason codes (in the order they are checked):

``invalid_order``, ``trading_state_halted``, ``trading_state_reducing``,
``reduce_only_violation``, ``stale_data``, ``no_last_price``, ``price_band``, ``no_equity``,
``min_notional``, ``notional_cap``, ``max_trade_size``, ``max_position``,
``max_open_positions``, ``max_gross_exposure``.

Orders that reduce the absolute net exposure of their symbol (without flipping it) are never
blocked by the size and exposure limits (``no_equity`` .. ``max_gross_exposure``): a limit
must never trap a position. Limits are compared with a relative tolerance of ``1e-9`` so an
order sized exactly at a limit passes. Positions are counted and valued per symbol, net of
tags, at the last price.

Halts: a drawdown halt and the consecutive-rejects halt are latched for the session (until
:meth:`RiskEngine.reset_halt`, an operator action); the kill switch is latched until
:meth:`RiskEngine.reset_kill_switch`; the daily-loss halt lifts at the next UTC day unless
``GuardianConfig.daily_loss_resets_next_day`` is false. See :mod:`core.trading.breakers`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.trading.breakers import (
    EquityBreakers,
    ManualBreakers,
    Thresholds,
    Trip,
    checked_equity,
    stale_changes,
)
from core.trading.messages import (
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    RiskDecision,
    RiskEvent,
    Side,
    TradingState,
)
from core.trading.orders import NOT_SENT_REASONS

TOLERANCE = 1e-9
"""Relative slack of every limit comparison (rounding of quantity * price)."""

DENIAL_REASONS = (
    "invalid_order", "trading_state_halted", "trading_state_reducing", "reduce_only_violation",
    "stale_data", "no_last_price", "price_band", "no_equity", "min_notional", "notional_cap",
    "max_trade_size", "max_position", "max_open_positions", "max_gross_exposure",
)
"""Every reason code :meth:`RiskEngine.check` can deny with."""


@dataclass(frozen=True, slots=True)
class RiskState:
    """Everything a :class:`RiskEngine` needs to resume exactly where it was (pickleable).

    Attributes:
        limits: Effective risk limits.
        guardian: Guardian settings.
        initial_equity: Equity the session started with.
        equity: State of the equity-driven breakers.
        manual: State of the event-driven breakers (rejects, stale data, kill switch).
        denials: ``(reason, count)`` pairs.
        approved: Number of approved orders.
    """

    limits: RiskLimits
    guardian: GuardianConfig
    initial_equity: float
    equity: EquityBreakers
    manual: ManualBreakers
    denials: tuple[tuple[str, int], ...]
    approved: int


class RiskEngine:
    """Pre-trade invariants and circuit breakers of one book (implements ``OrderGate``).

    Args:
        limits: Effective risk limits (``config.risk.effective()``).
        guardian: Guardian settings (price band, notional floor/cap, breakers).
        initial_equity: Equity at the session start (> 0); the first drawdown peak and the
            first day-start equity.

    Raises:
        ValueError: If ``initial_equity`` is not a positive finite number.
    """

    def __init__(self, limits: RiskLimits, guardian: GuardianConfig, initial_equity: float
                 ) -> None:
        if not (math.isfinite(initial_equity) and initial_equity > 0.0):
            raise ValueError(f"initial_equity must be positive and finite, got {initial_equity}")
        self._limits = limits
        self._guardian = guardian
        self._initial = float(initial_equity)
        self._th = Thresholds.resolve(limits, guardian)
        self._equity = EquityBreakers.start(self._initial)
        self._manual = ManualBreakers()
        self._denials: Counter[str] = Counter()
        self._approved = 0

    @property
    def state(self) -> TradingState:
        """The trading state in force (the most severe of every breaker)."""
        if self._manual.halted or self._equity.halted:
            return TradingState.HALTED
        if self._equity.reducing_now:
            return TradingState.REDUCING
        return TradingState.ACTIVE

    @property
    def causes(self) -> tuple[str, ...]:
        """Codes of every breaker currently holding trading back (empty when ACTIVE)."""
        eq, manual = self._equity, self._manual
        found = [(manual.kill_switch is not None, f"kill_switch:{manual.kill_switch}"),
                 (manual.rejects_halted, "consecutive_rejects"),
                 (eq.drawdown_halted, "drawdown_halt"), (eq.daily_halted, "daily_loss_halt"),
                 (eq.reducing and not eq.drawdown_halted, "drawdown_reducing"),
                 (eq.cut_until is not None, "daily_drawdown_cut")]
        return tuple(code for on, code in found if on)

    @property
    def breakers(self) -> tuple[EquityBreakers, ManualBreakers]:
        """The breakers' state: peaks, latches, reject count, stale symbols, kill switch."""
        return self._equity, self._manual

    @property
    def denial_counts(self) -> dict[str, int]:
        """Number of denials per reason code."""
        return dict(self._denials)

    @property
    def approved_count(self) -> int:
        """Number of approved orders."""
        return self._approved

    @property
    def limits(self) -> RiskLimits:
        """The risk limits in force."""
        return self._limits

    def switch_limits(self, limits: RiskLimits) -> bool:
        """Enforce ``limits`` from the next check and the next observed bar on.

        The breakers keep their state (peaks, day start, latches, reject count, stale marks,
        kill switch); only their thresholds follow the new limits, so a drawdown already past
        a tighter threshold trips at the next observed bar. The limits are part of
        :meth:`to_state`.

        Args:
            limits: The new effective limits.

        Returns:
            Whether they differ from the limits in force (nothing changes otherwise).
        """
        if limits == self._limits:
            return False
        self._limits = limits
        self._th = Thresholds.resolve(limits, self._guardian)
        return True

    def to_state(self) -> RiskState:
        """A pickleable snapshot; :meth:`from_state` resumes from it."""
        return RiskState(self._limits, self._guardian, self._initial, self._equity,
                         self._manual, tuple(sorted(self._denials.items())), self._approved)

    @classmethod
    def from_state(cls, state: RiskState, *, limits: RiskLimits | None = None,
                   guardian: GuardianConfig | None = None) -> RiskEngine:
        """Rebuild an engine from :meth:`to_state` through the cold-start constructor.

        Args:
            state: The snapshot.
            limits: Limits to enforce from now on (default: the snapshot's).
            guardian: Guardian settings from now on (default: the snapshot's).
        """
        engine = cls(limits or state.limits, guardian or state.guardian, state.initial_equity)
        engine._equity, engine._manual = state.equity, state.manual
        engine._denials = Counter(dict(state.denials))
        engine._approved = state.approved
        return engine

    # --------------------------------------------------------------- pre-trade
    def check(self, request: OrderRequest, portfolio: PortfolioSnapshot,
              last_prices: Mapping[str, float]) -> RiskDecision:
        """Judge one order against the trading state and every pre-trade invariant.

        Args:
            request: The order.
            portfolio: The book before the order.
            last_prices: Last close per symbol.

        Returns:
            An approval, or a denial with a reason from :data:`DENIAL_REASONS` and the numbers
            behind it in ``detail``. Denials are counted per reason.
        """
        reason, detail = self._verdict(request, portfolio, last_prices)
        if reason:
            self._denials[reason] += 1
        else:
            self._approved += 1
        return RiskDecision(request.client_order_id, request.ts, not reason, reason, detail,
                            self.state)

    def _verdict(self, request: OrderRequest, portfolio: PortfolioSnapshot,
                 last_prices: Mapping[str, float]) -> tuple[str, str]:
        qty, ref = request.quantity, request.reference_price
        if not (math.isfinite(qty) and qty > 0.0 and math.isfinite(ref) and ref > 0.0):
            return "invalid_order", f"quantity {qty!r} and reference price {ref!r} must be > 0"
        state = self.state
        if state is TradingState.HALTED:
            return "trading_state_halted", "halted by " + ", ".join(self.causes)
        if state is TradingState.REDUCING and not request.reduce_only:
            return "trading_state_reducing", "reducing by " + ", ".join(self.causes)
        pre = portfolio.net_quantity(request.symbol)
        post = pre + (qty if request.side is Side.BUY else -qty)
        reduces = abs(post) <= abs(pre) * (1.0 + TOLERANCE) and pre * post >= 0.0
        if request.reduce_only and not reduces:
            return "reduce_only_violation", (f"reduce-only {request.side} {qty:g} takes "
                                             f"{request.symbol} from {pre:g} to {post:g}")
        stale = self._manual.stale_since(request.symbol)
        if stale is not None:
            return "stale_data", f"{request.symbol} stale since {stale[0]}: {stale[1]}"
        last = float(last_prices.get(request.symbol, math.nan))
        if not (math.isfinite(last) and last > 0.0):
            return "no_last_price", f"no valid last price for {request.symbol} ({last!r})"
        band = abs(ref / last - 1.0) * 100.0
        if band > self._guardian.price_band_pct * (1.0 + TOLERANCE):
            return "price_band", (f"reference {ref:g} is {band:.2f}% from last {last:g} "
                                  f"> band {self._guardian.price_band_pct:g}%")
        if reduces:
            return "", ""
        return self._limit_verdict(request, portfolio, last_prices, pre, post, last)

    def _limit_verdict(self, request: OrderRequest, portfolio: PortfolioSnapshot,
                       last_prices: Mapping[str, float], pre: float, post: float, last: float
                       ) -> tuple[str, str]:
        """Size and exposure limits of an exposure-increasing order."""
        g, lim, equity = self._guardian, self._limits, portfolio.equity
        notional = request.quantity * request.reference_price
        if not (math.isfinite(equity) and equity > 0.0):
            return "no_equity", f"equity {equity!r} leaves no room for new exposure"

        def over(value: float, cap: float) -> bool:
            return value > cap * (1.0 + TOLERANCE)

        def pct(share: float | None) -> float:
            return math.inf if share is None else share / 100.0 * equity

        of_equity = f"of equity {equity:.2f}"
        if notional < g.min_notional * (1.0 - TOLERANCE):
            return "min_notional", f"notional {notional:.2f} < minimum {g.min_notional:g}"
        if over(notional, g.notional_cap):
            return "notional_cap", f"notional {notional:.2f} > cap {g.notional_cap:g}"
        if over(notional, pct(lim.max_trade_pct)):
            return "max_trade_size", (f"notional {notional:.2f} > {lim.max_trade_pct:g}% "
                                      f"{of_equity} = {pct(lim.max_trade_pct):.2f}")
        position = abs(post) * last
        if over(position, pct(lim.max_position_pct)):
            return "max_position", (f"{request.symbol} position after the order "
                                    f"{position:.2f} > {lim.max_position_pct:g}% {of_equity} "
                                    f"= {pct(lim.max_position_pct):.2f}")
        nets = _net_exposures(portfolio, last_prices)
        if lim.max_open_positions is not None and pre == 0.0 and post != 0.0:
            held = sum(1 for value in nets.values() if value != 0.0)
            if held + 1 > lim.max_open_positions:
                return "max_open_positions", (f"{held} open positions + {request.symbol} > "
                                              f"max {lim.max_open_positions}")
        gross = sum(nets.values()) - nets.get(request.symbol, 0.0) + position
        if over(gross, pct(lim.max_gross_exposure_pct)):
            return "max_gross_exposure", (f"gross exposure after the order {gross:.2f} > "
                                          f"{lim.max_gross_exposure_pct:g}% {of_equity} = "
                                          f"{pct(lim.max_gross_exposure_pct):.2f}")
        return "", ""

    # ---------------------------------------------------------------- breakers
    def observe(self, ts: np.ndarray, equity: np.ndarray) -> tuple[int, list[RiskEvent]]:
        """Feed the equity at the close of consecutive bars to the breakers.

        Consumes bars ``[0, k)``: every bar when the trading state does not change (``k ==
        len(ts)``), else up to and including the first bar where it changes. Breakers that
        trip or reset without changing the state are reported and the scan goes on.

        Args:
            ts: Bar open times (int64 ms), strictly increasing and after the last observed bar.
            equity: Equity at each bar's close (finite).

        Returns:
            ``(k, events)``: a ``"breaker"`` event per trip or reset and a ``"state"`` event
            when the trading state changes (its reason is the breaker that changed it).

        Raises:
            DataValidationError: On mismatched shapes, non-finite equity or time going
                backwards.
        """
        ts, equity = _arrays(ts, equity)
        before, i, n = self.state, 0, len(ts)
        events: list[RiskEvent] = []
        while i < n:
            self._equity, i, trips = self._equity.advance(self._th, ts, equity, i)
            if not trips:
                break
            after = self.state
            events.extend(self._event(int(ts[t.index]), "breaker", t.reason, t.detail)
                          for t in trips)
            if after is not before:
                events.append(self._state_event(int(ts[i - 1]), before, _cause(trips, after)))
                return i, events
        return n, events

    def on_reject(self, ts: int | None = None, client_order_id: str = "", reason: str = ""
                  ) -> list[RiskEvent]:
        """Count a venue reject; ``max_consecutive_rejects`` in a row halt trading (latched).

        Args:
            ts: When (default: the last observed bar).
            client_order_id: The rejected order.
            reason: The venue's reason.

        Returns:
            A ``"breaker"`` event (and a ``"state"`` event) when the breaker trips, else [].
        """
        before, limit = self.state, self._guardian.max_consecutive_rejects
        self._manual, tripped = self._manual.rejected(limit)
        if not tripped:
            return []
        when = self._when(ts)
        detail = f"{self._manual.consecutive_rejects} rejects in a row >= {limit}; last: {reason}"
        return [self._event(when, "breaker", "consecutive_rejects", detail,
                            client_order_id=client_order_id),
                *self._state_events(when, before, "consecutive_rejects")]

    def on_execution(self, updates: Sequence[OrderUpdate]) -> list[RiskEvent]:
        """Feed the execution's order updates, in order, to the reject breaker.

        A ``REJECTED`` update counts as a venue reject (:meth:`on_reject`), unless the order
        was never sent (a reason of :data:`NOT_SENT_REASONS`); a fill, partial or full, ends a
        run of rejects (:meth:`on_fill`).

        Returns:
            The breaker's events, if it tripped.
        """
        events: list[RiskEvent] = []
        for update in updates:
            if update.status is OrderStatus.REJECTED and update.reason in NOT_SENT_REASONS:
                continue  # refused before it left: not a venue reject
            if update.status is OrderStatus.REJECTED:
                events += self.on_reject(update.ts, update.client_order_id, update.reason)
            elif update.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
                self.on_fill(update.ts)
        return events

    def on_fill(self, ts: int | None = None) -> None:
        """A fill ends a run of rejects (a tripped reject halt stays latched)."""
        del ts
        self._manual = replace(self._manual, consecutive_rejects=0)

    def mark_stale(self, symbol: str, ts: int, reason: str = "stale") -> RiskEvent:
        """Deny every order on ``symbol`` (``"stale_data"``) until :meth:`clear_stale`."""
        self._manual = self._manual.with_stale(symbol, ts, reason)
        return self._event(ts, "stale_data", "stale_data", reason, symbol=symbol)

    def clear_stale(self, symbol: str, ts: int) -> RiskEvent | None:
        """Fresh data for ``symbol``: its orders are judged again. None if it was not stale."""
        if self._manual.stale_since(symbol) is None:
            return None
        self._manual = self._manual.with_stale(symbol, None)
        return self._event(ts, "stale_data", "stale_data_cleared", "fresh data", symbol=symbol)

    def check_freshness(self, now_ms: int, last_bar_ts: Mapping[str, int], timeframe_ms: int
                        ) -> list[RiskEvent]:
        """Mark stale or clear each symbol from its newest bar's open time.

        A symbol is stale when its newest bar closed more than
        ``GuardianConfig.stale_data_bars`` bar lengths before ``now_ms``.

        Args:
            now_ms: Current time from the actor's clock.
            last_bar_ts: Symbol -> open time of its newest bar.
            timeframe_ms: Bar length.

        Returns:
            The events of the symbols whose staleness changed.
        """
        stale = {symbol for symbol, _, _ in self._manual.stale}
        events = []
        for symbol, now_stale, why in stale_changes(now_ms, last_bar_ts, timeframe_ms,
                                                    self._guardian.stale_data_bars, stale):
            if now_stale:
                events.append(self.mark_stale(symbol, now_ms, why))
            else:
                events.append(self._event(now_ms, "stale_data", "stale_data_cleared", why,
                                          symbol=symbol))
                self._manual = self._manual.with_stale(symbol, None)
        return events

    def engage_kill_switch(self, ts: int, source: str) -> list[RiskEvent]:
        """HALT everything (reason ``"kill_switch:<source>"``), latched until reset.

        Args:
            ts: When.
            source: What pulled it: ``"file"``, ``"api"``, ``"signal"``, ...

        Returns:
            The kill-switch and state events; [] if it was already engaged.
        """
        if self._manual.kill_switch is not None:
            return []
        before = self.state
        self._manual = replace(self._manual, kill_switch=source)
        reason = f"kill_switch:{source}"
        return [self._event(ts, "kill_switch", reason, f"kill switch engaged by {source}"),
                *self._state_events(ts, before, reason)]

    def reset_kill_switch(self, ts: int, source: str) -> list[RiskEvent]:
        """Release the kill switch (other halts stay). [] if it was not engaged."""
        engaged_by = self._manual.kill_switch
        if engaged_by is None:
            return []
        before = self.state
        self._manual = replace(self._manual, kill_switch=None)
        reason = f"kill_switch_reset:{source}"
        return [self._event(ts, "kill_switch", reason,
                            f"engaged by {engaged_by}, released by {source}"),
                *self._state_events(ts, before, reason)]

    def reset_halt(self, ts: int, source: str) -> list[RiskEvent]:
        """Operator reset of the breakers (not the kill switch, not stale marks).

        Clears the drawdown, daily-loss, daily-cut and reject latches and restarts the equity
        peaks from the last observed equity, i.e. accepts the loss so far as the new base.
        """
        before = self.state
        self._equity = self._equity.rebased()
        self._manual = replace(self._manual, rejects_halted=False, consecutive_rejects=0)
        reason = f"breakers_reset:{source}"
        return [self._event(ts, "breaker", reason,
                            f"peak restarts at {self._equity.last_equity:.2f}"),
                *self._state_events(ts, before, reason)]

    # ---------------------------------------------------------------- helpers
    def _when(self, ts: int | None) -> int:
        if ts is not None:
            return int(ts)
        return self._equity.last_ts if self._equity.last_ts is not None else 0

    def _event(self, ts: int, kind: str, reason: str, detail: str, *, client_order_id: str = "",
               symbol: str = "") -> RiskEvent:
        return RiskEvent(int(ts), kind, reason, detail, client_order_id, symbol, self.state)

    def _state_event(self, ts: int, before: TradingState, reason: str) -> RiskEvent:
        return self._event(ts, "state", reason, f"{before} -> {self.state}")

    def _state_events(self, ts: int, before: TradingState, reason: str) -> list[RiskEvent]:
        return [self._state_event(ts, before, reason)] if self.state is not before else []


_CAUSES = {TradingState.HALTED: ("drawdown_halt", "daily_loss_halt"),
           TradingState.REDUCING: ("drawdown_reducing", "daily_drawdown_cut")}


def _cause(trips: list[Trip], state: TradingState) -> str:
    """The trip that explains the move to ``state`` (several can happen at one bar)."""
    wanted = _CAUSES.get(state, ())
    return next((t.reason for t in trips if t.reason in wanted), trips[0].reason)


def _arrays(ts: np.ndarray, equity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int64 times and float64 equity of equal 1-D shapes (values are checked by the scan).

    Raises:
        DataValidationError: On mismatched shapes.
    """
    t = np.asarray(ts, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if t.ndim != 1 or t.shape != e.shape:
        checked_equity(t, e, None)
    return t, e


def denial_event(request: OrderRequest, decision: RiskDecision) -> RiskEvent:
    """The ``"denied"`` event recording a denial (never a silent drop)."""
    return RiskEvent(decision.ts, "denied", decision.reason, decision.detail,
                     request.client_order_id, request.symbol, decision.state)


def _net_exposures(portfolio: PortfolioSnapshot, last_prices: Mapping[str, float]
                   ) -> dict[str, float]:
    """``|net quantity| * price`` per symbol (last price, else the position's mark)."""
    quantity: dict[str, float] = {}
    mark: dict[str, float] = {}
    for p in portfolio.positions:
        quantity[p.symbol] = quantity.get(p.symbol, 0.0) + p.quantity
        mark[p.symbol] = p.last_price
    out = {}
    for symbol, q in quantity.items():
        price = float(last_prices.get(symbol, mark[symbol]))
        out[symbol] = abs(q) * (price if math.isfinite(price) else mark[symbol])
    return out
