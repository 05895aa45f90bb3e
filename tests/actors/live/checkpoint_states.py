"""Real actor states for the checkpoint tests: a short session walked on real Binance bars.

The guardian, executor and candidate states are built exactly as the actors build them: a
:class:`~core.trading.broker.PaperBroker` walked by :func:`~core.trading.walk.walk_batch`
with a :class:`~core.trading.risk.RiskEngine` as the gate, batch after batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.live.candidate import CandidateReport, _CandidateState
from actors.live.executor import ExecutionReport, _ExecutorState
from actors.live.guardian import GuardianReport, _GuardianState
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays
from core.strategies import get_strategy
from core.trading.broker import PaperBroker
from core.trading.messages import DiaryEntry, MarketBatch, Signal
from core.trading.risk import RiskEngine
from core.trading.walk import BatchOutcome, walk_batch
from tests.core.data.helpers import load_shared

BTC = "BTC/USDT"
LIMITS = RiskLimits(max_position_pct=60.0, max_trade_pct=60.0, max_gross_exposure_pct=120.0,
                    max_open_positions=3, daily_loss_halt_pct=8.0, max_drawdown_halt_pct=30.0)
GUARDIAN = GuardianConfig(kill_switch_file=None)
CONFIG = BacktestConfig(direction="long_short", sizing={"fraction": 0.5},
                        stops={"stop_loss_pct": 3.0, "take_profit_pct": 6.0})


@dataclass
class Step:
    """One step of the session: the batch, the outcome and the states after it."""

    batch: MarketBatch
    signals: list[Signal]
    outcome: BatchOutcome
    broker: PaperBroker
    engine: RiskEngine
    guardian: _GuardianState
    executor: _ExecutorState
    candidate: _CandidateState


def btc_market(shared_data: Path, n_bars: int) -> tuple[MarketArrays, np.ndarray]:
    """The last ``n_bars`` hourly BTC bars and the momentum strategy's targets on them."""
    candles = load_shared(shared_data, "BINANCE_BTC-USDT_1h")
    spec = get_strategy("momentum")
    (targets,) = spec.compute([candles], spec.params_model(allow_short=True))
    market = MarketArrays.from_candles([candles])
    cut = slice(market.n_bars - n_bars, market.n_bars)
    market = MarketArrays.from_arrays(market.timestamp[cut], market.open[cut], market.high[cut],
                                      market.low[cut], market.close[cut], market.volume[cut],
                                      timeframe_ms=market.timeframe_ms, symbols=(BTC,))
    return market, targets[cut]


def walk_session(shared_data: Path, n_bars: int = 3_000, batch_bars: int = 500) -> list[Step]:
    """Walk ``n_bars`` real bars in batches; the states every actor would checkpoint."""
    market, targets = btc_market(shared_data, n_bars)
    broker = PaperBroker(CONFIG, [BTC])
    engine = RiskEngine(LIMITS, GUARDIAN, broker.cash)
    steps: list[Step] = []
    last = np.nan
    for seq, start in enumerate(range(0, market.n_bars, batch_bars)):
        cut = slice(start, min(start + batch_bars, market.n_bars))
        batch = MarketBatch(seq, start, "BINANCE", market.symbols, market.timeframe_ms,
                            market.timestamp[cut], market.open[cut], market.high[cut],
                            market.low[cut], market.close[cut], market.volume[cut])
        signals = []
        for i, value in enumerate(targets[cut]):
            if value == value and value != last:
                signals.append(Signal("momentum-1", BTC, int(batch.ts[i]), float(value),
                                      stop_loss_pct=3.0, reason=f"target {value}"))
                last = value
        risk_before, book_before = engine.to_state(), broker.state
        outcome = walk_batch(broker, batch, signals, engine)
        execution = ExecutionReport(seq, outcome, broker.state_hash(), False,
                                    outcome.order_updates[:1])
        report = GuardianReport(seq, execution, outcome.decisions, outcome.risk_events,
                                engine.state, {"risk": 1.25, "order": 0.5})
        diary = tuple(DiaryEntry(s.ts, s.strategy_id, "abc123", s.symbol,
                                 (("momentum", s.target), ("vol", 0.02)), f"target {s.target}")
                      for s in signals)
        candidate = _CandidateState(seq, broker.state, engine.to_state(),
                                    CandidateReport("mom", seq, "momentum-1", outcome, diary,
                                                    (), tuple(signals)))
        steps.append(Step(batch, signals, outcome, broker, engine,
                          _GuardianState(seq, engine.to_state(), risk_before, report,
                                         list(outcome.risk_events)),
                          _ExecutorState(seq, broker.state, book_before, execution,
                                         extra_updates=list(outcome.order_updates[:2])),
                          candidate))
    return steps
