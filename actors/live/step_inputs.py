"""What a guardian step waits for: the active slot's pushed signals and the step's bars.

The feeds push each step's bars to the guardian and to the slot at the same time; the slot
pushes its signals once it has computed them. Whichever comes first is used at once: when
the bars are in before the signals (the usual order), the guardian makes the step's first
exchange with the executor while the slot still computes (see :mod:`core.trading.prefetch`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from actors.live.subscriber import BarSubscriber
from core.trading.align import FeedSlice
from core.trading.messages import MarketBatch
from core.trading.slot import SlotOutput

SIGNAL_WAIT_S = 1.0
"""How long a step waits for the slot's pushed signals before asking the slot."""

StepBars = tuple[MarketBatch, dict[str, str]]
"""A step's aligned bars and the feeds found stopped (see :meth:`BarSubscriber.batch`)."""


class StepInputs:
    """The guardian's inbox of signals and bars.

    Args:
        bars: Where published bars arrive (None: a guardian built for in-process use).
        ask_slot: ``(seq, i0, i1) -> output``: asks the slot for a step whose push is late.
        done: The last step the guardian finished (older pushes are dropped).
    """

    def __init__(self, bars: BarSubscriber | None,
                 ask_slot: Callable[[int, int, int], SlotOutput],
                 done: Callable[[], int]) -> None:
        self.bars = bars
        self._ask_slot, self._done = ask_slot, done
        self._signals: dict[int, SlotOutput] = {}
        self._arrived = threading.Condition()

    def counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self.bars.counts() if self.bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice."""
        assert self.bars is not None, "this guardian was built without a bar subscriber"
        verdict = self.bars.on_bars(part)
        with self._arrived:  # after the subscriber's lock: never both held this way round
            self._arrived.notify_all()
        return verdict

    def on_signals(self, seq: int, output: SlotOutput) -> None:
        """The active slot's output for step ``seq``."""
        with self._arrived:
            done = self._done()
            if seq > done:
                self._signals[seq] = output
                for old in [k for k in self._signals if k <= done]:
                    del self._signals[old]
                self._arrived.notify_all()

    @staticmethod
    def deadline(until_due_s: float = 0.0) -> float:
        """When a step due in ``until_due_s`` stops waiting for pushed signals (monotonic)."""
        return time.monotonic() + until_due_s + SIGNAL_WAIT_S

    def bars_first(self, seq: int, i0: int, i1: int, deadline: float) -> StepBars | None:
        """Wait for step ``seq``'s signals or bars; the bars if they came first, else None.

        Bars taken here are the step's (pass them to :meth:`step_bars`).
        """
        bars = self.bars
        if bars is None:
            return None
        with self._arrived:
            self._arrived.wait_for(lambda: seq in self._signals or bars.complete(seq),
                                   timeout=max(0.0, deadline - time.monotonic()))
            if seq in self._signals or not bars.complete(seq):
                return None
        return bars.batch(seq, i0, i1)

    def slot_output(self, seq: int, i0: int, i1: int, deadline: float) -> SlotOutput:
        """The slot's output for step ``seq``: pushed by ``deadline``, else asked for."""
        with self._arrived:
            self._arrived.wait_for(lambda: seq in self._signals,
                                   timeout=max(0.0, deadline - time.monotonic()))
            output = self._signals.pop(seq, None)
        if output is None:  # the slot is late or was restarted: ask it
            output = self._ask_slot(seq, i0, i1)
        return output

    def step_bars(self, seq: int, i0: int, i1: int, taken: StepBars | None = None
                  ) -> StepBars:
        """Step ``seq``'s bars: ``taken`` by :meth:`bars_first`, else from the subscriber."""
        if taken is not None:
            return taken
        assert self.bars is not None, "this guardian was built without a bar subscriber"
        return self.bars.batch(seq, i0, i1)
