"""A self-contained paper book: a :class:`Trader` and its own :class:`PaperClient`.

What a candidate trades beside the live strategy, and what tests compare with the
backtester: the same trading loop as the risk guardian, with the venue in the same process
(:class:`~core.trading.execution.LocalLink`) instead of behind the executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.trading.execution import LocalLink
from core.trading.messages import MarketBatch, Signal
from core.trading.paper import PaperClient, PaperState
from core.trading.planner import OrderPlanner
from core.trading.portfolio import Portfolio
from core.trading.trader import ApproveAll, RiskGate, StepOutcome, Trader, TraderState


@dataclass(frozen=True, slots=True)
class PaperBookState:
    """A paper book's state besides its gate.

    Attributes:
        trader: The trader's portfolio, planner and cursor.
        client: The paper venue account.
    """

    trader: TraderState
    client: PaperState


class PaperBook:
    """Trader + paper client in one process.

    Args:
        config: Fill model, costs, sizing, stops and direction.
        symbols: The session's symbols.
        timeframe_ms: Bar length.
        risk: Effective risk limits (sizing caps); None = uncapped.
        gate: The risk gate (default: approve everything).
    """

    def __init__(self, config: BacktestConfig, symbols: Sequence[str], timeframe_ms: int,
                 risk: RiskLimits | None = None, gate: RiskGate | None = None) -> None:
        self.client = PaperClient(config, symbols, risk=risk)
        self.link = LocalLink(self.client)
        self.trader = Trader(Portfolio(symbols, self.client.cash),
                             OrderPlanner(config, symbols, timeframe_ms, risk),
                             gate if gate is not None else ApproveAll())

    @property
    def portfolio(self) -> Portfolio:
        """The trader's book."""
        return self.trader.portfolio

    @property
    def state(self) -> PaperBookState:
        """Snapshot (the gate is saved by its owner)."""
        return PaperBookState(self.trader.state, self.client.state)

    def restore(self, state: PaperBookState) -> None:
        """Continue from ``state``."""
        self.trader.restore(state.trader)
        self.client = PaperClient.from_state(state.client)
        self.link = LocalLink(self.client, previews=self.link.previews)

    def open_at(self, bar: int) -> None:
        """Start a fresh book at session bar ``bar`` (a candidate that joins a running session).

        Raises:
            ValueError: The book traded already.
        """
        if self.portfolio.last_index != -1 or self.client.last_index != -1:
            raise ValueError(f"the book is at bar {self.portfolio.last_index}: it cannot open "
                             f"at bar {bar}")
        self.portfolio.last_index = self.client.last_index = bar - 1

    def step(self, batch: MarketBatch, signals: Sequence[Signal]) -> StepOutcome:
        """Trade one batch."""
        self.link.begin(batch)
        return self.trader.run_batch(batch, signals, self.link)
