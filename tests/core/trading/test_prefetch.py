"""A one-bar step's first exchange made ahead of the signals (core.trading.prefetch)."""

from __future__ import annotations

import numpy as np
import pytest

from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.trading.book import PaperBook
from core.trading.messages import MarketBatch, Signal
from core.trading.prefetch import PrefetchedLink, PrefetchMismatchError, first_exchange
from core.trading.replay import ExchangeRequest, RecordingLink
from core.trading.trader import StepOutcome
from tests.core.trading.sim_helpers import (
    BTC,
    ETH,
    HOUR,
    batches,
    random_market,
    signal_times,
    split_signals,
)

CONFIG = BacktestConfig(direction="long_short", sizing={"fraction": 0.3},
                        stops={"stop_loss_pct": 2.0, "take_profit_pct": 3.0,
                               "time_stop_bars": 3})
LIMITS = RiskLimits(max_position_pct=40.0, max_gross_exposure_pct=80.0)


def churning_signals(n: int, ts: np.ndarray) -> list[Signal]:
    """Targets that flip often on two symbols (entries, exits, reversals, stops between)."""
    rng = np.random.default_rng(7)
    out = []
    for symbol in (BTC, ETH):
        for i in range(n):
            if rng.random() < 0.35:
                out.append(Signal("churn", symbol, int(ts[i]), float(rng.choice([-1.0, 0.0, 1.0]))))
    return sorted(out, key=lambda s: s.ts)


def step_all(prefetch: bool) -> tuple[list[StepOutcome], list[ExchangeRequest], list[str]]:
    """One-bar steps over a random market; with ``prefetch`` the first exchange goes first."""
    market = random_market(11, 160, (BTC, ETH))
    signals = churning_signals(market.n_bars, market.timestamp)
    when = signal_times(signals)
    book = PaperBook(CONFIG, [BTC, ETH], HOUR, LIMITS)
    outcomes, firsts, predicted = [], [], []
    for batch in batches(market, 1):
        step_signals = split_signals(signals, when, batch)
        book.link.begin(batch)
        request = first_exchange(book.trader.cursor, batch)
        assert request is not None
        predicted.append(repr(request))
        link = book.link
        if prefetch:
            reply = book.link.exchange(request.since, request.sync_to, request.submit,
                                       request.advance_to, request.preview_to)
            link = PrefetchedLink(book.link, request, reply)
        recording = RecordingLink(link)
        outcomes.append(book.trader.run_batch(batch, step_signals, recording))
        firsts.append(recording.requests[0])
    return outcomes, firsts, predicted


def test_the_first_exchange_of_a_one_bar_step_does_not_depend_on_its_signals() -> None:
    outcomes, firsts, predicted = step_all(prefetch=False)
    assert [repr(r) for r in firsts] == predicted
    fills = [f for o in outcomes for f in o.fills]
    # the steps covered entries, exits and every stop the loop decides between signals
    assert {f.reason for f in fills} >= {"signal", "stop_loss", "take_profit", "time_stop"}
    assert sum(o.exchanges == 2 for o in outcomes) > 20


def test_making_it_ahead_of_the_signals_changes_nothing() -> None:
    plain, _, _ = step_all(prefetch=False)
    ahead, _, _ = step_all(prefetch=True)
    assert [(o.fills, o.order_updates, o.decisions, o.risk_events, o.requests,
             o.portfolio, o.exchanges, o.equity.tolist()) for o in ahead] == \
        [(o.fills, o.order_updates, o.decisions, o.risk_events, o.requests,
          o.portfolio, o.exchanges, o.equity.tolist()) for o in plain]


def test_a_longer_batch_has_no_first_exchange_known_in_advance() -> None:
    market = random_market(3, 10)
    batch = next(iter(batches(market, 4)))
    assert isinstance(batch, MarketBatch) and batch.n_bars == 4
    assert first_exchange(0, batch) is None


def test_a_first_exchange_other_than_the_prefetched_one_is_refused() -> None:
    market = random_market(3, 10)
    book = PaperBook(BacktestConfig(), [BTC], HOUR)
    batch = next(iter(batches(market, 1)))
    book.link.begin(batch)
    request = first_exchange(0, batch)
    assert request is not None
    reply = book.link.exchange(request.since, request.sync_to, (), request.advance_to,
                               request.preview_to)
    link = PrefetchedLink(book.link, request, reply)
    with pytest.raises(PrefetchMismatchError, match="not the one sent ahead"):
        link.exchange(request.since + 1, request.sync_to, (), request.advance_to,
                      request.preview_to)
    assert link.exchange(request.since, request.sync_to, (), request.advance_to,
                         request.preview_to) is reply
