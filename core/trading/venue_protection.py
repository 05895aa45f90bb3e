"""Exchange-native stop-loss and take-profit for the positions a session holds on a venue (pure).

The paper client checks a position's stops inside each bar. On a real venue the stops must
live *on the venue*, so that they still work while our processes are down. This module keeps,
for every ``(symbol, tag)`` position built from the session's own fills, the protective order
the venue should hold, and plans how to get there; the ccxt client does the talking.

- **Levels.** A position's stop-loss and take-profit fractions follow the backtester's rule
  (:func:`core.trading.lots.set_exit_levels`); the levels hang on ``entry_avg``
  (:meth:`~core.trading.lots.FifoPosition.stop_levels`), rounded to the venue's tick, and the
  quantity is the position floored to the lot step.
- **Orders.** Both levels: one OCO list (a stop-market leg and a take-profit-limit leg at its
  level, the backtester's prices); one level: a single order of that kind. Every protection
  has a version per position; its list and leg client ids derive from (session, symbol, tag,
  version), so they are stable across restarts and never reused.
- **Plan.** :meth:`VenueProtections.plan` compares what is placed with what is wanted and
  answers cancels and placements. Nothing new is placed for a position while an earlier
  protection's fate is open (being sent, unknown, being cancelled, or its exit still working),
  so at most one protection per position is ever live on the venue.
- **Exits.** A protective leg that trades becomes an order the venue created itself: an
  :class:`~core.trading.messages.OrderRequest` of kind ``stop_loss`` / ``take_profit`` with a
  deterministic id, announced once (:meth:`VenueProtections.triggered`); the client then
  tracks it like any other order. The other leg of the list expires on the venue.
- **Unknown outcomes.** A create whose answer never came is looked up by its list id; it is
  declared not placed only after ``not_found_confirmations`` venue answers and the receive
  window, exactly as an order (:mod:`core.trading.venue_orders`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from core.trading.lots import FifoPosition, set_exit_levels
from core.trading.messages import Fill, OrderRequest, Side, client_order_id
from core.trading.venue_ids import venue_client_order_id
from core.trading.venue_rules import MarketRules, floor_to_step, round_to_tick

LIVE = ("sending", "unknown", "open", "canceling")
"""Statuses of a protection that may exist on the venue."""
STATUSES = (*LIVE, "triggered", "done", "failed")
"""Every status: ``triggered`` (a leg traded; its exit order is tracked), ``done`` (gone from
the venue), ``failed`` (the venue refused it; not retried until the levels change)."""


@dataclass(frozen=True, slots=True)
class ProtectionLevels:
    """What the venue should hold for one position.

    Attributes:
        exit_side: SELL for a long position, BUY for a short.
        quantity: Quantity on the lot grid.
        stop: Stop-loss trigger on the tick grid (0 = none).
        take: Take-profit level on the tick grid (0 = none).
    """

    exit_side: Side
    quantity: float
    stop: float
    take: float


@dataclass(frozen=True, slots=True)
class ProtectiveLeg:
    """One order of a protection on the venue.

    Attributes:
        kind: ``"stop_loss"`` or ``"take_profit"``.
        venue_client_id: Its client id on the venue.
        level: Its trigger price.
        venue_order_id: The venue's id once known.
    """

    kind: str
    venue_client_id: str
    level: float
    venue_order_id: str = ""


@dataclass(frozen=True, slots=True)
class Protection:
    """One protective order (or OCO list) of one position.

    Attributes:
        symbol: Unified symbol.
        tag: Position tag.
        version: Its number for this position (ids derive from it).
        list_client_id: The list's client id (a single order: the leg's).
        levels: Quantity and levels.
        legs: Its orders (stop-loss first).
        strategy_id: Strategy owning the position.
        status: One of :data:`STATUSES`.
        sent_ms: Venue time the create was sent.
        not_found: Consecutive venue "not found" answers while unknown.
        exit_order: Client order id of the announced exit (``triggered``).
        reason: Why it failed.
    """

    symbol: str
    tag: str
    version: int
    list_client_id: str
    levels: ProtectionLevels
    legs: tuple[ProtectiveLeg, ...]
    strategy_id: str
    status: str = "sending"
    sent_ms: int = 0
    not_found: int = 0
    exit_order: str = ""
    reason: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """``(symbol, tag)``."""
        return self.symbol, self.tag

    @property
    def is_list(self) -> bool:
        """Whether it is an OCO list (two legs)."""
        return len(self.legs) == 2

    @property
    def is_live(self) -> bool:
        """Whether it may exist on the venue now."""
        return self.status in LIVE


@dataclass(frozen=True, slots=True)
class ProtectionsState:
    """Everything :class:`VenueProtections` holds, for a snapshot."""

    positions: tuple[FifoPosition, ...]
    protections: tuple[Protection, ...]
    versions: tuple[tuple[tuple[str, str], int], ...]


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel this protection on the venue."""

    protection: Protection


@dataclass(frozen=True, slots=True)
class Place:
    """Place this protection (already recorded as ``sending``)."""

    protection: Protection


def wanted_levels(position: FifoPosition, rules: MarketRules) -> ProtectionLevels | None:
    """The protection a position needs on the venue (None: no stop, or nothing to protect)."""
    if position.quantity == 0.0 or (position.stop_loss <= 0.0 and position.take_profit <= 0.0):
        return None
    quantity = floor_to_step(abs(position.quantity), rules.step_size)
    if quantity <= 0.0 or quantity < rules.min_quantity:
        return None
    stop, take = position.stop_levels()
    return ProtectionLevels(
        Side.SELL if position.quantity > 0.0 else Side.BUY, quantity,
        round_to_tick(stop, rules.tick_size) if position.stop_loss > 0.0 else 0.0,
        round_to_tick(take, rules.tick_size) if position.take_profit > 0.0 else 0.0)


class VenueProtections:
    """The session's positions on a venue and their protective orders (see the module doc).

    Args:
        session_salt: The session id (salts the venue ids).
        default_stops: ``(stop-loss, take-profit)`` fractions for orders that name none.
        not_found_confirmations: Venue "not found" answers before an unknown create is
            declared not placed.
        recv_window_ms: After this long a create can no longer reach the venue.
    """

    def __init__(self, session_salt: str, default_stops: tuple[float, float] = (0.0, 0.0),
                 not_found_confirmations: int = 3, recv_window_ms: int = 5_000) -> None:
        self._salt = session_salt
        self.default_stops = (float(default_stops[0]), float(default_stops[1]))
        self.not_found_confirmations = int(not_found_confirmations)
        self.recv_window_ms = int(recv_window_ms)
        self.positions: dict[tuple[str, str], FifoPosition] = {}
        self._current: dict[tuple[str, str], Protection] = {}
        self._versions: dict[tuple[str, str], int] = {}

    # --- queries ---------------------------------------------------------------------------

    def current(self, symbol: str, tag: str) -> Protection | None:
        """The latest protection of a position."""
        return self._current.get((symbol, tag))

    def protections(self) -> list[Protection]:
        """The latest protection of every position, in key order."""
        return [self._current[k] for k in sorted(self._current)]

    def live(self) -> list[Protection]:
        """Protections that may exist on the venue."""
        return [p for p in self.protections() if p.is_live]

    def working_legs(self) -> list[tuple[str, str]]:
        """``(symbol, venue client id)`` of every leg that should be open on the venue."""
        return [(p.symbol, leg.venue_client_id) for p in self.live()
                if p.status != "sending" for leg in p.legs]

    def leg_of(self, symbol: str, venue_order_id: str) -> tuple[Protection, ProtectiveLeg] | None:
        """The untriggered leg a venue order id belongs to."""
        for protection in self._current.values():
            if protection.symbol != symbol or not protection.is_live:
                continue
            for leg in protection.legs:
                if leg.venue_order_id and leg.venue_order_id == venue_order_id:
                    return protection, leg
        return None

    def next_version(self, symbol: str, tag: str) -> int:
        """The version the next protection of a position gets."""
        return self._versions.get((symbol, tag), 0) + 1

    # --- the book --------------------------------------------------------------------------

    def on_fill(self, fill: Fill, request: OrderRequest) -> None:
        """One of the session's fills (its orders' and its exits'): the position moves."""
        key = (fill.symbol, fill.tag)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = FifoPosition(*key)
        before = position.quantity
        dq = fill.quantity if fill.side is Side.BUY else -fill.quantity
        position.fill(dq, fill.price, fill.fee, fill.ts, 0)
        set_exit_levels(position, before, dq, request.strategy_id, request.stop_loss_pct,
                        request.take_profit_pct, *self.default_stops)

    # --- the plan --------------------------------------------------------------------------

    def plan(self, rules: Callable[[str], MarketRules], exit_working: Callable[[str], bool],
             now_ms: int) -> list[Cancel | Place]:
        """Cancels and placements that bring the venue to the wanted protections.

        Args:
            rules: The venue's rules of a symbol.
            exit_working: Whether an announced exit order is still working.
            now_ms: Venue time (the new protections' send time).
        """
        actions: list[Cancel | Place] = []
        keys = sorted(set(self.positions) | set(self._current))
        for key in keys:
            position = self.positions.get(key)
            wanted = None if position is None else wanted_levels(position, rules(key[0]))
            current = self._current.get(key)
            if current is not None and current.status == "triggered" and \
                    not exit_working(current.exit_order):
                current = self._set(replace(current, status="done"))
            if current is not None and current.status == "canceling":
                actions.append(Cancel(current))  # an earlier cancel got no answer
                continue
            if current is not None and current.status == "open" and \
                    current.levels != wanted:
                self._set(replace(current, status="canceling"))
                actions.append(Cancel(self._current[key]))
                continue
            if wanted is None or position is None:
                continue
            if current is not None and (current.status in ("sending", "unknown", "open",
                                                           "triggered")
                                        or (current.status == "failed"
                                            and current.levels == wanted)):
                continue
            actions.append(Place(self._new(position, wanted, now_ms)))
        return actions

    def cancels_before_exit(self, symbol: str) -> list[Cancel]:
        """Open protections on ``symbol`` to cancel before an order there may reduce it.

        A spot venue locks the base asset of a sell order: an exit signal's market order
        could not be filled while the protective list holds the quantity.
        """
        actions = []
        for protection in self.protections():
            if protection.symbol == symbol and protection.status == "open":
                actions.append(Cancel(self._set(replace(protection, status="canceling"))))
        return actions

    def _new(self, position: FifoPosition, levels: ProtectionLevels, now_ms: int
             ) -> Protection:
        key = position.key
        version = self.next_version(*key)
        self._versions[key] = version
        base = f"protect|{key[0]}|{key[1]}|{version}"
        legs = []
        if levels.stop:
            legs.append(ProtectiveLeg("stop_loss",
                                      venue_client_order_id(self._salt, base + "|sl"),
                                      levels.stop))
        if levels.take:
            legs.append(ProtectiveLeg("take_profit",
                                      venue_client_order_id(self._salt, base + "|tp"),
                                      levels.take))
        list_id = (venue_client_order_id(self._salt, base) if len(legs) == 2
                   else legs[0].venue_client_id)
        return self._set(Protection(key[0], key[1], version, list_id, levels, tuple(legs),
                                    position.strategy_id, "sending", sent_ms=now_ms))

    def _set(self, protection: Protection) -> Protection:
        self._current[protection.key] = protection
        return protection

    # --- the venue's answers ---------------------------------------------------------------

    def placed(self, protection: Protection, order_ids: dict[str, str], done: bool = False
               ) -> None:
        """The venue has the protection (``order_ids``: venue client id -> venue order id).

        Args:
            protection: The protection.
            order_ids: The legs' venue ids the answer names.
            done: The venue lists it as finished already (a leg traded or it was cancelled).
        """
        current = self._current.get(protection.key)
        if current is None or current.version != protection.version or \
                current.status not in ("sending", "unknown", "canceling", "open"):
            return
        legs = tuple(replace(leg, venue_order_id=order_ids.get(leg.venue_client_id,
                                                                leg.venue_order_id))
                     for leg in current.legs)
        status = current.status if current.status == "canceling" else "open"
        self._set(replace(current, legs=legs, status="done" if done else status,
                          not_found=0))

    def outcome_unknown(self, protection: Protection) -> None:
        """The create's answer never came."""
        current = self._current.get(protection.key)
        if current is not None and current.version == protection.version:
            self._set(replace(current, status="unknown"))

    def rejected(self, protection: Protection, reason: str) -> None:
        """The venue refused the create for good (not retried until the levels change)."""
        current = self._current.get(protection.key)
        if current is not None and current.version == protection.version and \
                current.status in ("sending", "unknown"):
            self._set(replace(current, status="failed", reason=reason))

    def not_found(self, protection: Protection, now_ms: int) -> None:
        """The venue confirmed it has no such list or order.

        An unknown create counts confirmations (then it was not placed: the next plan places
        a new version); a protection being cancelled or open is gone (done).
        """
        current = self._current.get(protection.key)
        if current is None or current.version != protection.version:
            return
        if current.status in ("open", "canceling"):
            self._set(replace(current, status="done"))
            return
        if current.status != "unknown":
            return
        count = current.not_found + 1
        old_enough = now_ms - current.sent_ms > self.recv_window_ms
        if count >= self.not_found_confirmations and old_enough:
            self._set(replace(current, status="done", not_found=count, reason="not_placed"))
        else:
            self._set(replace(current, not_found=count))

    def canceled(self, protection: Protection) -> None:
        """The venue cancelled it (at our request)."""
        current = self._current.get(protection.key)
        if current is not None and current.version == protection.version and \
                current.status in LIVE:
            self._set(replace(current, status="done"))

    def triggered(self, protection: Protection, leg: ProtectiveLeg, bar_ts: int
                  ) -> OrderRequest:
        """A leg traded: the exit order the venue created, to announce (once).

        Args:
            protection: Its protection.
            leg: The leg that traded.
            bar_ts: Open time of the bar the first trade fell in.
        """
        levels = protection.levels
        request = OrderRequest(
            client_order_id(protection.strategy_id, protection.symbol, protection.tag, bar_ts,
                            f"{leg.kind}:{protection.version}"),
            protection.strategy_id, protection.symbol, protection.tag, bar_ts,
            levels.exit_side, levels.quantity, leg.level, 0.0, 0.0, True, kind=leg.kind)
        self._set(replace(protection, status="triggered",
                          exit_order=request.client_order_id))
        return request

    # --- persistence -----------------------------------------------------------------------

    def state(self) -> ProtectionsState:
        """A value to snapshot; :meth:`from_state` restores it."""
        return ProtectionsState(
            tuple(self.positions[k].copy() for k in sorted(self.positions)),
            tuple(self.protections()), tuple(sorted(self._versions.items())))

    @classmethod
    def from_state(cls, state: ProtectionsState, session_salt: str,
                   default_stops: tuple[float, float] = (0.0, 0.0),
                   not_found_confirmations: int = 3, recv_window_ms: int = 5_000
                   ) -> VenueProtections:
        """Rebuild from :meth:`state`."""
        book = cls(session_salt, default_stops, not_found_confirmations, recv_window_ms)
        book.positions = {p.key: p.copy() for p in state.positions}
        book._current = {p.key: p for p in state.protections}
        book._versions = dict(state.versions)
        return book
