"""Real actor states for the checkpoint tests: a short session traded on real Binance bars.

The states are built exactly as the actors build them, with the executor's
:class:`~core.trading.paper.PaperClient` in process:

- the risk guardian: a :class:`~core.trading.trader.Trader` (portfolio from venue events,
  :class:`~core.trading.planner.OrderPlanner`, :class:`~core.trading.risk.RiskEngine`)
  exchanging with the client through ``RecordingLink(LocalLink(client))``, one link per step;
  its step (:func:`guardian_step`) is ``GuardianService._step``; its journal record is written
  before the step's last exchange as ``_JournalOnLast`` writes it; its snapshot is
  ``GuardianService._snapshot``;
- the executor: the client's state as ``ExecutorService._snapshot`` keeps it (no event
  history, the last finished orders, the step's last exchange);
- a candidate: its own :class:`~core.trading.book.PaperBook` and risk engine fed the same
  signals, snapshotted as ``CandidateService._step`` does.

The bars are cut by the feeds' path: one :class:`~core.trading.align.FeedSlice` per step,
aligned by :func:`~core.trading.align.align_batch` (what a subscriber hands an actor).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.live.candidate import CandidateSnapshot
from actors.live.executor import SNAPSHOT_FINISHED, ExecutorSnapshot
from actors.live.guardian import GuardianSnapshot
from actors.live.reports import GuardianReport
from actors.live.wal_records import StepRecord
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays
from core.strategies import get_strategy
from core.trading.align import FeedSlice, align_batch
from core.trading.book import PaperBook
from core.trading.execution import Exchange, LocalLink, VenueLink
from core.trading.messages import DiaryEntry, MarketBatch, OrderRequest, RiskEvent, Signal
from core.trading.paper import PaperClient, PaperState
from core.trading.planner import OrderPlanner
from core.trading.portfolio import Portfolio
from core.trading.replay import ExchangeRequest, RecordingLink
from core.trading.risk import RiskEngine, RiskState
from core.trading.trader import StepOutcome, Trader, TraderState
from tests.core.data.helpers import load_shared

BTC = "BTC/USDT"
VENUE = "BINANCE"
LIMITS = RiskLimits(max_position_pct=60.0, max_trade_pct=60.0, max_gross_exposure_pct=120.0,
                    max_open_positions=3, daily_loss_halt_pct=8.0, max_drawdown_halt_pct=30.0)
GUARDIAN = GuardianConfig(kill_switch_file=None)
CONFIG = BacktestConfig(direction="long_short", sizing={"fraction": 0.5},
                        stops={"stop_loss_pct": 3.0, "take_profit_pct": 6.0})
STRATEGY = "momentum-1"


@dataclass
class Step:
    """One step of the session: its inputs, what it produced and every actor's state after it.

    Attributes:
        batch: The step's bars (as a subscriber aligns them).
        part: The feed's published slice of the step.
        signals: The active strategy's signals.
        outcome: The guardian's trading loop's outcome.
        events: Every risk event of the guardian's step.
        requests: The guardian's exchanges with the venue, in order.
        replies: The venue's replies (with their previews, as sent).
        record: The journal record, written before the last exchange (or after the step).
        client: The venue account after the step, complete (with its event history).
        client_hash: Its state hash.
        trader: The guardian's trader after the step.
        risk: The guardian's risk engine after the step.
        guardian: The guardian's snapshot.
        executor: The executor's snapshot.
        candidate: The candidate's snapshot.
        candidate_outcome: The candidate's book's outcome.
    """

    batch: MarketBatch
    part: FeedSlice
    signals: list[Signal]
    outcome: StepOutcome
    events: list[RiskEvent]
    requests: list[ExchangeRequest]
    replies: list[Exchange]
    record: StepRecord
    client: PaperState
    client_hash: str
    trader: TraderState
    risk: RiskState
    guardian: GuardianSnapshot
    executor: ExecutorSnapshot
    candidate: CandidateSnapshot
    candidate_outcome: StepOutcome


@dataclass
class Session:
    """A walked session: the market, its timeline and the steps."""

    market: MarketArrays
    steps: list[Step]

    @property
    def timeline(self) -> np.ndarray:
        """The session timeline (bar open times)."""
        return self.market.timestamp


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


def feed_slice(market: MarketArrays, seq: int, i0: int, i1: int) -> FeedSlice:
    """What the BTC feed publishes for step ``seq`` (timeline ``[i0, i1)``)."""
    cut = slice(i0, i1)
    prev_close = float(market.close[i0 - 1, 0]) if i0 > 0 else None
    return FeedSlice(BTC, market.timestamp[cut].copy(), market.open[cut, 0].copy(),
                     market.high[cut, 0].copy(), market.low[cut, 0].copy(),
                     market.close[cut, 0].copy(), market.volume[cut, 0].copy(), seq=seq,
                     prev_close=prev_close, i0=i0, i1=i1)


def aligned(market: MarketArrays, part: FeedSlice) -> MarketBatch:
    """The batch a subscriber builds from ``part`` (``BarSubscriber.batch``)."""
    batch, stale = align_batch(part.seq, part.i0, market.timestamp[part.i0:part.i1], [part],
                               VENUE, market.timeframe_ms, [part.prev_close])
    assert not stale
    return batch


def new_trader(timeframe_ms: int) -> Trader:
    """The guardian's trader at a cold start (``GuardianService.__init__``)."""
    return Trader(Portfolio([BTC], CONFIG.initial_cash),
                  OrderPlanner(CONFIG, [BTC], timeframe_ms, LIMITS),
                  RiskEngine(LIMITS, GUARDIAN, CONFIG.initial_cash))


def restored_trader(snapshot: GuardianSnapshot, timeframe_ms: int) -> Trader:
    """The guardian's trader restored from its snapshot (``GuardianService._restore``)."""
    trader = new_trader(timeframe_ms)
    trader.restore(snapshot.trader)
    trader.gate = RiskEngine.from_state(snapshot.risk)
    return trader


def new_client() -> PaperClient:
    """The executor's client at a cold start (``ExecutorService.__init__``)."""
    return PaperClient(CONFIG, [BTC], risk=LIMITS)


def new_candidate_book(timeframe_ms: int) -> PaperBook:
    """A candidate's book at a cold start (``CandidateService.__init__``)."""
    return PaperBook(CONFIG, [BTC], timeframe_ms, risk=LIMITS,
                     gate=RiskEngine(LIMITS, GUARDIAN, CONFIG.initial_cash))


def guardian_step(trader: Trader, batch: MarketBatch, signals: Sequence[Signal],
                  link: VenueLink, stopped: Sequence[tuple[str, str]] = (), kill: str = "",
                  kill_applied: str = "") -> tuple[StepOutcome, list[RiskEvent]]:
    """``GuardianService._step``: the step's inputs, the trading loop, the freshness check."""
    engine = trader.gate
    assert isinstance(engine, RiskEngine)
    first = int(batch.ts[0])
    events = [RiskEvent(first, "feed_error", "corrupt_bar", reason, symbol=symbol)
              for symbol, reason in stopped]
    for symbol, reason in stopped:
        events.append(engine.mark_stale(symbol, first, reason))
    if kill and kill != kill_applied:
        events += engine.engage_kill_switch(first, kill)
    outcome = trader.run_batch(batch, signals, link)
    events += outcome.risk_events
    gone = {s for s, _ in stopped}
    healthy = {s: int(batch.ts[-1]) for s in batch.symbols if s not in gone}
    events += engine.check_freshness(int(batch.ts[-1]) + batch.timeframe_ms, healthy,
                                     batch.timeframe_ms)
    return outcome, events


class JournalOnLast:
    """The guardian's ``_JournalOnLast``: the step record, before the last exchange is sent."""

    def __init__(self, seq: int, i0: int, i1: int, signals: Sequence[Signal],
                 diary: Sequence[DiaryEntry], link: RecordingLink,
                 prev_tail: Exchange | None) -> None:
        self.seq, self.i0, self.i1, self.link = seq, i0, i1, link
        self.signals, self.diary, self.prev_tail = tuple(signals), tuple(diary), prev_tail
        self.record: StepRecord | None = None

    def __call__(self, request: ExchangeRequest, last: bool) -> None:
        if last:
            self.record = self._record(tail=True)

    def _record(self, tail: bool) -> StepRecord:
        link = self.link
        return StepRecord(self.seq, self.i0, self.i1, self.signals, self.diary, (), (), "",
                          tuple(link.requests), tuple(link.replies),
                          link.last_preview if tail else (), self.prev_tail)

    def finish(self) -> StepRecord:
        """The record (written now if no exchange was flagged the step's last)."""
        if self.record is None:
            self.record = self._record(tail=False)
        return self.record

    def tail_reply(self) -> Exchange | None:
        """The reply of the exchange sent after the record."""
        assert self.record is not None
        return self.link.replies[-1] if self.record.has_tail else None


@dataclass
class KeepReplies:
    """A link that keeps the replies it passes on, previews included."""

    inner: VenueLink
    sent: list[Exchange]

    @property
    def previews(self) -> bool:
        """Whether the inner link previews."""
        return self.inner.previews

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        """Forward and keep the reply."""
        reply = self.inner.exchange(since, sync_to, submit, advance_to, preview_to, last=last)
        self.sent.append(reply)
        return reply


def executor_snapshot(seq: int, client: PaperClient, requests: Sequence[ExchangeRequest],
                      replies: Sequence[Exchange]) -> ExecutorSnapshot:
    """``ExecutorService._snapshot`` at the end of step ``seq``."""
    full = client.state
    state = dataclasses.replace(full, events=(), finished=full.finished[-SNAPSHOT_FINISHED:])
    last = ((requests[-1], replies[-1]),)
    return ExecutorSnapshot(seq, state, last, len(requests) - 1)


def signals_of(targets: np.ndarray, batch: MarketBatch, last: float) -> tuple[list[Signal],
                                                                              float]:
    """One signal per target change on the batch's bars (with a stop), and the last target."""
    signals = []
    for i, value in enumerate(targets):
        if value == value and value != last:
            signals.append(Signal(STRATEGY, BTC, int(batch.ts[i]), float(value),
                                  stop_loss_pct=3.0, reason=f"target {value}"))
            last = value
    return signals, last


def diary_of(signals: Sequence[Signal]) -> tuple[DiaryEntry, ...]:
    """The strategy's diary entries for its signals."""
    return tuple(DiaryEntry(s.ts, s.strategy_id, "abc123", s.symbol,
                            (("momentum", s.target), ("vol", 0.02)), f"target {s.target}")
                 for s in signals)


def step_bounds(targets: np.ndarray, batch_bars: int) -> list[tuple[int, int]]:
    """Steps of about ``batch_bars`` bars; every other one ends on a bar with a signal.

    An order decided at a step's last bar is sent by the step's last exchange, which the
    guardian journals before sending: those records have a tail (and the next one its reply).
    """
    changed, last = [], np.nan
    for i, value in enumerate(targets.tolist()):
        if value == value and value != last:
            changed.append(i)
            last = value
    bounds: list[tuple[int, int]] = []
    a, n = 0, targets.shape[0]
    while a < n:
        b = min(a + batch_bars, n)
        k = bisect.bisect_left(changed, b - 1)
        if len(bounds) % 2 == 0 and k < len(changed):
            b = changed[k] + 1
        bounds.append((a, b))
        a = b
    return bounds


@functools.lru_cache(maxsize=4)
def walk_session(shared_data: Path, n_bars: int = 3_000, batch_bars: int = 500) -> Session:
    """Trade ``n_bars`` real bars in steps of about ``batch_bars``; every actor's states.

    Cached: the states are values (tests copy what they restore from them).
    """
    market, targets = btc_market(shared_data, n_bars)
    tf = market.timeframe_ms
    trader, client, candidate = new_trader(tf), new_client(), new_candidate_book(tf)
    reports: list[GuardianReport] = []
    steps: list[Step] = []
    last, tail = np.nan, None
    for seq, (i0, i1) in enumerate(step_bounds(targets, batch_bars)):
        part = feed_slice(market, seq, i0, i1)
        batch = aligned(market, part)
        signals, last = signals_of(targets[i0:i1], batch, last)
        venue = LocalLink(client)
        venue.begin(batch)
        sent: list[Exchange] = []
        link = RecordingLink(KeepReplies(venue, sent))
        journal = JournalOnLast(seq, i0, i1, signals, diary_of(signals), link, tail)
        link.before_send = journal
        outcome, events = guardian_step(trader, batch, signals, link)
        record = journal.finish()
        tail = journal.tail_reply()
        engine = trader.gate
        assert isinstance(engine, RiskEngine)
        book = trader.portfolio
        reports.append(GuardianReport(
            seq, int(batch.ts[-1]), float(outcome.portfolio.equity), engine.state,
            tuple((p.symbol, p.tag, p.quantity) for p in book.open_positions()), (),
            len(outcome.fills), sum(1 for d in outcome.decisions if not d.approved),
            outcome.exchanges, {"risk": 1.25, "order": 0.5, "journal": 0.25}))
        guardian = GuardianSnapshot(seq, trader.state, engine.to_state(), (), "", tail,
                                    tuple(reports)[-16:])
        candidate_outcome = candidate.step(batch, signals)
        gate = candidate.trader.gate
        assert isinstance(gate, RiskEngine)
        steps.append(Step(batch, part, signals, outcome, events, list(link.requests), sent,
                          record, client.state, client.state_hash(), trader.state,
                          engine.to_state(), guardian,
                          executor_snapshot(seq, client, link.requests, link.replies),
                          CandidateSnapshot(seq, candidate.state, gate.to_state()),
                          candidate_outcome))
    return Session(market, steps)
