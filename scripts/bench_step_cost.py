"""The cost of one one-bar step of the whole trading stack, after a short and a long history.

Used by ``scripts/bench_actors.py`` (``per_bar_cost_ratio``). What is timed, in process and
without Ray, is everything a paced step computes: the active slot's runners, and for the
live book and each candidate a full trading step (strategy runners, order planner, risk
engine with its breakers, portfolio from events, the paper venue) through
:class:`~core.trading.book.PaperBook` with :class:`~core.trading.risk.RiskEngine` as its gate.
One copy of the stack is fed ``short`` bars of history, another ``long`` bars (in batches,
as a session would run them); then one-bar steps alternate between the two (the machine's
load hits both alike). The ratio of the medians says whether a step's cost grows with the
history.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Stack:
    """The slot's runners and a book per strategy (live + candidates) over one history."""

    slot: list[Any]
    books: list[tuple[list[Any], Any]]
    seq: int = 0

    def step(self, batch: Any) -> None:
        from core.trading.runners import run_batch

        run_batch(self.slot, batch)
        for runners, book in self.books:
            book.step(batch, run_batch(runners, batch).signals)


def measure(choices: Sequence[Any], symbols: Sequence[str], timeframe: str, bar_ms: int,
            short: int, long: int, steps: int, feed_batch: int) -> dict[str, Any]:
    """Median one-bar step cost after ``short`` and after ``long`` bars of history.

    Args:
        choices: Strategies: the live one first, then the candidates.
        symbols: The two synthetic symbols.
        timeframe: Their timeframe.
        bar_ms: Bar length.
        short: Short history, bars.
        long: Long history, bars.
        steps: One-bar steps timed per history.
        feed_batch: Bars per batch while feeding the history.

    Returns:
        The figures (``per_bar_cost_*`` keys).
    """
    from configs.app import AppConfig
    from core.data import generate_synthetic
    from core.trading.book import PaperBook
    from core.trading.messages import MarketBatch
    from core.trading.risk import RiskEngine
    from core.trading.runners import build_runners

    clock = time.perf_counter()
    n = long + steps + 1
    series = [generate_synthetic(symbol=s, timeframe=timeframe, bars=n, seed=i + 1)
              for i, s in enumerate(symbols)]
    ts = series[0].timestamp
    cols = {k: np.column_stack([getattr(c, k) for c in series]).astype(np.float64)
            for k in ("open", "high", "low", "close", "volume")}
    for array in cols.values():
        array.setflags(write=False)

    def batch(seq: int, i0: int, i1: int) -> MarketBatch:
        return MarketBatch(seq=seq, start=i0, venue="SYNTHETIC", symbols=tuple(symbols),
                           timeframe_ms=bar_ms, ts=ts[i0:i1],
                           **{k: v[i0:i1] for k, v in cols.items()})

    config = AppConfig()
    limits = config.risk.effective()

    def stack() -> _Stack:
        books = [(build_runners(c, symbols),
                  PaperBook(config.backtest, symbols, bar_ms, risk=limits,
                            gate=RiskEngine(limits, config.guardian,
                                            config.backtest.initial_cash)))
                 for c in choices]
        return _Stack(build_runners(choices[0], symbols), books)

    stacks = {short: stack(), long: stack()}
    feed_s = {}
    for history, item in stacks.items():
        start = time.perf_counter()
        for i0 in range(0, history, feed_batch):
            item.step(batch(item.seq, i0, min(history, i0 + feed_batch)))
            item.seq += 1
        feed_s[history] = time.perf_counter() - start
    times: dict[int, list[float]] = {short: [], long: []}
    for k in range(steps):
        for history, item in stacks.items():
            one = batch(item.seq, history + k, history + k + 1)
            item.seq += 1
            start = time.perf_counter()
            item.step(one)
            times[history].append((time.perf_counter() - start) * 1e3)
    fast, slow = statistics.median(times[short]), statistics.median(times[long])
    return {
        "per_bar_cost_ratio": slow / fast,
        "per_bar_cost_ms_short_history": fast,
        "per_bar_cost_ms_long_history": slow,
        "per_bar_cost_p99_ms_long_history": float(np.percentile(times[long], 99)),
        "per_bar_cost_history_bars": long,
        "per_bar_cost_books": len(choices),
        "per_bar_cost_feed_s": feed_s[long],
        "per_bar_cost_elapsed_s": time.perf_counter() - clock,
    }
