"""The order state machine and the immutable :class:`Order` record the broker keeps.

Allowed transitions::

    INITIALIZED      -> ACCEPTED | DENIED | REJECTED
    ACCEPTED         -> PARTIALLY_FILLED | FILLED | CANCELED | REJECTED
    PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELED

(a real venue reports each further partial fill of a working order as a new update).

DENIED, REJECTED, FILLED and CANCELED are terminal. Every transition yields an
:class:`~core.trading.messages.OrderUpdate`; an :class:`Order` is a frozen value, so a
transition returns a new record (copying a book of orders is a shallow copy).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.trading.errors import OrderStateError
from core.trading.messages import OrderRequest, OrderStatus, OrderUpdate

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.INITIALIZED: frozenset(
        {OrderStatus.ACCEPTED, OrderStatus.DENIED, OrderStatus.REJECTED}),
    OrderStatus.ACCEPTED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                     OrderStatus.CANCELED, OrderStatus.REJECTED}),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                             OrderStatus.CANCELED}),
}
"""Status -> the statuses it may move to (terminal statuses have no entry)."""

SESSION_END = "session_end"
"""REJECTED reason of an order whose fill would come after the session's last bar."""
STALE_DECISION = "stale_decision"
"""REJECTED reason of an order decided on a bar the venue is already well past."""
RECONCILE_MISMATCH = "reconcile_mismatch"
"""REJECTED reason of an order refused while the venue and the book disagree."""
NOT_SENT_REASONS = frozenset({SESSION_END, STALE_DECISION, RECONCILE_MISMATCH})
"""Reasons of REJECTED updates for orders refused before they left (not venue rejects)."""

WORKING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
"""Statuses of an order still live at the venue (it may fill or be cancelled)."""


def check_transition(client_order_id: str, current: OrderStatus, requested: OrderStatus
                     ) -> None:
    """Raise unless ``current -> requested`` is an allowed transition.

    Raises:
        OrderStateError: If the state machine forbids the transition.
    """
    if requested not in TRANSITIONS.get(current, frozenset()):
        raise OrderStateError(client_order_id, current.value, requested.value)


@dataclass(frozen=True, slots=True)
class Order:
    """One order: its request, current status, cumulative fill and history of updates.

    Attributes:
        request: What was asked.
        status: Current status.
        filled_quantity: Cumulative filled quantity (absolute, base asset).
        history: Every transition so far, oldest first.
    """

    request: OrderRequest
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_quantity: float = 0.0
    history: tuple[OrderUpdate, ...] = ()

    @property
    def client_order_id(self) -> str:
        """The request's client order id."""
        return self.request.client_order_id

    @property
    def is_working(self) -> bool:
        """True while the order may still fill or be cancelled."""
        return self.status in WORKING

    @property
    def is_terminal(self) -> bool:
        """True once no further transition is possible."""
        return self.status not in TRANSITIONS

    def transition(self, status: OrderStatus, ts: int, *, filled_quantity: float | None = None,
                   reason: str = "") -> tuple[Order, OrderUpdate]:
        """Move to ``status`` and return the new record with the update describing it.

        Args:
            status: The new status.
            ts: When (bar open time of the bar where it happened).
            filled_quantity: New cumulative filled quantity; None keeps the current one.
            reason: Why (rejections, denials, cancels).

        Raises:
            OrderStateError: If the transition is not allowed.
        """
        check_transition(self.client_order_id, self.status, status)
        filled = self.filled_quantity if filled_quantity is None else filled_quantity
        update = OrderUpdate(self.client_order_id, int(ts), status, filled, reason)
        return replace(self, status=status, filled_quantity=filled,
                       history=(*self.history, update)), update

    def last_update(self) -> OrderUpdate:
        """The latest update, or an INITIALIZED pseudo-update for a fresh order."""
        if self.history:
            return self.history[-1]
        return OrderUpdate(self.client_order_id, self.request.ts, self.status,
                           self.filled_quantity)
