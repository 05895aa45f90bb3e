"""Errors of the trading core (orders, paper venue, trading loop)."""

from __future__ import annotations

from core.errors import EvotraderError


class OrderStateError(EvotraderError):
    """An order was asked to make a transition its state machine does not allow.

    This is a programming error (an event applied twice, a fill after a cancel, ...): nothing
    retries it; the component that raised it stops and the supervisor restarts it from its
    persisted state.

    Attributes:
        client_order_id: The order concerned.
        current: Its status when the transition was attempted.
        requested: The status asked for.
    """

    def __init__(self, client_order_id: str, current: str, requested: str) -> None:
        self.client_order_id = client_order_id
        self.current = current
        self.requested = requested
        super().__init__(
            f"order {client_order_id}: illegal transition {current} -> {requested}"
        )


class VenueMismatchError(EvotraderError):
    """The venue committed events that differ from the preview the trader walked on.

    A simulated venue is deterministic, so this is a bug or a corrupted venue state: the
    guardian fails closed (halts) rather than trade on a book it cannot trust.
    """
