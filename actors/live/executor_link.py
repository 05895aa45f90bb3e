"""The guardian's :class:`~core.trading.execution.VenueLink` to the executor actor.

One exchange is one round trip to the executor (through the guardian's
:class:`~actors.live.exchange_channel.ExchangeChannel`), numbered within the step (``op``), so
the executor answers a repeated one from its cache. It is retried across the executor's
restarts; when the restarted executor no longer knows the step
(:class:`~actors.live.executor.StepLostError`) the error reaches the guardian, which runs the
step again from its start.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from actors.live.exchange_channel import ExchangeChannel
from core.trading.execution import Exchange
from core.trading.messages import OrderRequest
from core.trading.replay import ExchangeRequest


class ExecutorLink:
    """Exchanges of one step with the executor.

    Args:
        channel: The guardian's channel to the executor.
        seq: The step.
        i0: Timeline index of its first bar.
        i1: Timeline index after its last bar.
        first_op: Number of the first exchange sent through this link.
    """

    previews = True

    def __init__(self, channel: ExchangeChannel, seq: int, i0: int, i1: int,
                 first_op: int = 0) -> None:
        self._channel = channel
        self.seq, self.i0, self.i1 = seq, i0, i1
        self.op = first_op
        self.elapsed_ms = 0.0

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """See :meth:`VenueLink.exchange` (one actor call)."""
        request = ExchangeRequest(since, sync_to, tuple(submit), advance_to, preview_to)
        op = self.op
        self.op += 1
        started = time.perf_counter()
        try:
            return self._channel.call((self.seq, self.i0, self.i1, op, request))
        finally:
            self.elapsed_ms += (time.perf_counter() - started) * 1e3
