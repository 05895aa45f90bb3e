"""StrategySlot: the active strategy as a Ray actor.

IO contract: bars (``MarketBatch``) + portfolio in, signals out. The strategy runs causally
over its history (see :mod:`core.trading.slot`); an exception inside it is contained (the step
gets no signals and an error). A restarted slot warms up from the feeds before its first step.

The strategy of each step comes from the session's swap schedule
(:mod:`actors.live.policy_swaps`): a promotion while the session runs swaps the strategy at
a step boundary; the new strategy is warmed up from the feeds' history of the session, and the
swap's first step carries a diary entry (and, to flatten, flat targets for every symbol).

Event-driven: when the feeds' slices of a step are all in, the slot computes the step's
output and pushes it to the risk guardian (:meth:`GuardianService.on_signals`). The guardian
asks for it (:meth:`SlotService.on_step`) only when the push is late (a restarted slot); the
answer is the same, computed once.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import ray

from actors.live.history import fetch_history
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress, run_bounded
from actors.live.logs import actor_log
from actors.live.poison import PoisonGuard
from actors.live.policy_swaps import ScheduleFile
from actors.live.priority import latency_critical
from actors.live.subscriber import BarSource
from core.governance.swaps import PolicySwap
from core.trading.align import FeedSlice
from core.trading.messages import DiaryEntry, MarketBatch, PortfolioSnapshot, Signal
from core.trading.runners import StrategyChoice, build_runners, run_batch
from core.trading.slot import SlotOutput
from core.trading.warmup import warm_up_strategy

OUTPUTS_KEPT = 8
"""Recent step outputs a slot answers again without computing."""


class SlotService:
    """The slot's logic; :data:`~actors.live.shells.StrategySlot` is the Ray actor around it.

    Args:
        choice: The strategy.
        symbols: Traded symbols, in column order.
        feed_names: Ray names of the feeds (same order).
        namespace: Ray namespace.
        timeline: The session timeline (bar open times).
        venue: Venue label.
        timeframe_ms: Bar length.
        session_id: The session (for logs).
        state_dir: The session's state folder (the in-flight marker; "" = none).
        stuck_after_s: A step running longer fails the heartbeat.
        bars: Subscribe to the published feeds (for :meth:`on_step`); None for in-process use
            through :meth:`on_batch`.
        guardian: Ray name of the guardian the outputs are pushed to ("" = no push).
    """

    def __init__(self, choice: StrategyChoice, symbols: Sequence[str],
                 feed_names: Sequence[str], namespace: str, timeline: np.ndarray, venue: str,
                 timeframe_ms: int, session_id: str = "", state_dir: str = "",
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 bars: BarSource | None = None, guardian: str = "") -> None:
        self._bars = bars.subscriber() if bars is not None else None
        if bars is not None:  # an actor (not an in-process test)
            latency_critical()
        self._guardian, self._guardian_handle = guardian, None
        self._tracked_push: Any = None
        self._outputs: dict[int, SlotOutput] = {}
        self._push_lock = threading.Lock()
        self._next_push: int | None = None
        self._symbols = tuple(symbols)
        self._schedule = ScheduleFile(state_dir, choice)
        self._choice = choice
        self._runners = build_runners(choice, symbols)
        self._raw: dict[tuple[str, str], Signal] = {}
        self.swaps = 0
        self._feeds, self._namespace = tuple(feed_names), namespace
        self._timeline, self._venue, self._tf = timeline, venue, timeframe_ms
        self._known = 0
        self.warmups = 0
        self._lock = threading.Lock()
        self._poison = PoisonGuard(state_dir, "slot") if state_dir else None
        self._progress = Progress(stuck_after_s, on_stuck=self._poison.mark_stuck
                                  if self._poison is not None else None)
        self._log = actor_log(session_id, "slot")
        if not run_bounded(lambda: warm_up_strategy(choice, symbols, timeframe_ms),
                           stuck_after_s, "slot-warm-up"):
            self._log.warning("strategy warm-up still runs: left behind", limit_s=stuck_after_s)
        self._log.info("slot started", strategy=self._runners[0].strategy_id,
                       inherited=str(self._poison.inherited) if self._poison else "")

    def ping(self) -> str:
        """Heartbeat: fails while a step has run past ``stuck_after_s`` (no progress).

        Raises:
            StuckError: The current step is stuck.
        """
        self._progress.check()
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def connect(self) -> None:
        """Reach the guardian once before the first step (its pushes go there)."""
        if self._guardian:
            self._guardian_handle = ray.get_actor(self._guardian, namespace=self._namespace)
            ray.get(self._guardian_handle.ping.remote(), timeout=60)

    def strategy_id(self) -> str:
        """Id of the strategy (name + hash of its definition)."""
        return self._runners[0].strategy_id

    def strategy_hash(self) -> str:
        """Hash of the strategy's definition."""
        return self._runners[0].strategy_hash

    def _warm_up(self, until: int) -> None:
        if until > self._known:
            history = fetch_history(self._feeds, self._namespace, self._timeline, self._known,
                                    until, self._venue, self._tf)
            self._remember(run_batch(self._runners, history).signals)
            self.warmups += 1
            self._known = until

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds (see :meth:`BarSubscriber.counts`); {} if none."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: FeedSlice) -> str:
        """A feed's published slice; the steps it completes are computed and pushed in order.

        Feeds push independently, so step ``k + 1`` may complete before step ``k``: it waits
        until ``k`` is done. A fresh slot starts at step 0; a restarted one waits until the
        guardian asks it for a step (:meth:`on_step`), which sets the order again.
        """
        assert self._bars is not None
        verdict = self._bars.on_bars(part)
        if not self._guardian or part.i0 < 0:
            return verdict
        with self._push_lock:
            for seq, i0, i1 in self._bars.held():
                expected = self._next_push if self._next_push is not None else 0
                if seq < expected:
                    continue
                if seq > expected:
                    break
                self._push(seq, self.on_step(seq, i0, i1))
                self._next_push = seq + 1
        return verdict

    def _push(self, seq: int, output: SlotOutput) -> None:
        # A push to a guardian that died fails only in its answer: the last one is looked at
        # on the next push, and a failed one makes the slot look the successor up.
        tracked = self._tracked_push
        if tracked is not None and ray.wait([tracked], timeout=0)[0]:
            self._tracked_push = None
            try:
                ray.get(tracked)
            except Exception:  # noqa: BLE001 - the guardian died: find its successor
                self._guardian_handle = None
        try:
            if self._guardian_handle is None:
                self._guardian_handle = ray.get_actor(self._guardian, namespace=self._namespace)
            pushed = self._guardian_handle.on_signals.remote(seq, output)
            if self._tracked_push is None:
                self._tracked_push = pushed
        except Exception:  # noqa: BLE001 - the guardian asks for it when it needs it
            self._guardian_handle = None

    def on_step(self, seq: int, i0: int, i1: int, portfolio: PortfolioSnapshot | None = None
                ) -> SlotOutput:
        """:meth:`on_batch` on the published bars of step ``seq`` (timeline ``[i0, i1)``).

        Computed once per step: asking again (the guardian after a late push) gets the same
        output.
        """
        assert self._bars is not None, "this slot was built without a bar subscriber"
        with self._lock:
            done = self._outputs.get(seq)
        if done is not None:
            return done
        batch, _ = self._bars.batch(seq, i0, i1)
        output = self.on_batch(batch, portfolio)
        with self._lock:
            self._outputs[seq] = output
            for old in sorted(self._outputs)[:-OUTPUTS_KEPT]:
                del self._outputs[old]
            self._next_push = max(self._next_push or 0, seq + 1)
        return output

    def on_batch(self, batch: MarketBatch, portfolio: PortfolioSnapshot | None = None
                 ) -> SlotOutput:
        """Signals for the batch's bars (a retried batch gets the same answer).

        A strategy that killed its actor twice on this step (it never returned and the
        supervisor restarted the slot) is disabled: no signal from then on, an error each step.
        """
        with self._lock, self._progress.working(f"strategy step {batch.seq}"):
            disabled = self._disabled(batch.seq)
            if disabled:
                return SlotOutput(errors=[disabled])
            schedule = self._schedule.current()
            choice = schedule.choice_at(batch.seq)
            if choice != self._choice:
                self._choice, self._known, self._raw = choice, 0, {}
                self._runners = build_runners(choice, self._symbols)
                self.swaps += 1
                self._log.info("strategy swapped", step=batch.seq,
                               strategy=self._runners[0].strategy_id)
            elif batch.start < self._known and not self._retained(batch):
                self._log.warning("asked for an older step than the history: rebuilt",
                                  step=batch.seq)
                self._runners = build_runners(self._choice, self._symbols)
                self._known, self._raw = 0, {}
            self._warm_up(batch.start)
            held = dict(self._raw)
            output = run_batch(self._runners, batch, portfolio)
            self._remember(output.signals)
            for error in output.errors:
                self._log.error("strategy error contained: no signal", step=batch.seq,
                                error=error)
            self._known = max(self._known, batch.start + batch.n_bars)
            if self._poison is not None:
                self._poison.end()
            swap = schedule.starting_at(batch.seq)
            output = _scaled(output, schedule.size_scale_at(batch.seq))
            if swap is None:
                return output
            resized = batch.seq > 0 and schedule.choice_at(batch.seq - 1) == choice
            return self._swapped(output, swap, batch, held if resized else {})

    def _remember(self, signals: Sequence[Signal]) -> None:
        """The strategy's last raw target per (symbol, tag) (a resize re-sends them)."""
        for signal in signals:
            self._raw[(signal.symbol, signal.tag)] = signal

    def _swapped(self, output: SlotOutput, swap: PolicySwap, batch: MarketBatch,
                 held: dict[tuple[str, str], Signal]) -> SlotOutput:
        """The first output of a swapped-in strategy (with the swap in the diary).

        A swap that flattens puts flat targets for every symbol before the strategy's signals.
        A swap to the same strategy at another size (a drift alarm's ``halve_size``) sends
        the strategy's held targets again at the new size on the swap's first bar.
        """
        runner = self._runners[0]
        ts = int(batch.ts[0])
        policy = swap.policy.hash
        size = f", size x{swap.size_scale:g}" if swap.size_scale != 1.0 else ""
        note = DiaryEntry(ts, runner.strategy_id, runner.strategy_hash, "", (),
                          f"policy swap to {policy} ({swap.positions} positions{size}): "
                          f"{swap.reason}")
        signals = list(output.signals)
        if swap.positions == "flatten":
            signals = [Signal(runner.strategy_id, symbol, ts, 0.0,
                              reason=f"policy swap to {policy}: flatten")
                       for symbol in self._symbols] + signals
        elif held:
            sent = {(s.symbol, s.tag) for s in signals if s.ts == ts}
            signals = [dataclasses.replace(s, ts=ts, size_scale=swap.size_scale,
                                           reason=f"policy swap to {policy}: resize")
                       for key, s in held.items() if key not in sent and s.target != 0.0
                       ] + signals
        return dataclasses.replace(output, signals=signals, diary=[note, *output.diary])

    def _retained(self, batch: MarketBatch) -> bool:
        """True when every runner still holds this batch (a repeat it answers the same)."""
        return all(runner.holds(batch) for runner in self._runners)

    def _disabled(self, seq: int) -> str:
        if self._poison is None:
            return ""
        already = self._poison.disabled_reason()
        reason = already or self._poison.refusal(seq, self._runners[0].strategy_id)
        if reason and not already:
            self._log.error("strategy disabled", step=seq, reason=reason)
        return reason

    def stop(self) -> None:
        """Nothing to flush: the slot's state is rebuilt from the feeds."""


def _scaled(output: SlotOutput, scale: float) -> SlotOutput:
    """``output`` with every signal sized at ``scale`` (see :attr:`Signal.size_scale`)."""
    if scale == 1.0:
        return output
    return dataclasses.replace(output, signals=[
        dataclasses.replace(s, size_scale=scale) for s in output.signals])
