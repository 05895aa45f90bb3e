"""Pre-trade checks see working orders: same-bar orders cannot jointly breach a limit."""

from __future__ import annotations

import numpy as np

from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from configs.risk import RiskLimits
from core.trading.broker import PaperBroker
from core.trading.messages import MarketBatch, Side, Signal
from core.trading.risk import RiskEngine
from core.trading.walk import ApproveAll, walk_batch

SYMBOLS = ("AAA/USDT", "BBB/USDT", "CCC/USDT")


def _batch() -> MarketBatch:
    n, k = 3, len(SYMBOLS)
    price = np.full((n, k), 100.0)
    ts = np.arange(n, dtype=np.int64) * 3_600_000
    return MarketBatch(0, 0, "TEST", SYMBOLS, 3_600_000, ts, price, price * 1.01,
                       price * 0.99, price, np.full((n, k), 1e6))


def test_orders_of_one_bar_count_against_gross_exposure_together() -> None:
    config = BacktestConfig.model_validate({"sizing": {"fraction": 0.2}})
    limits = RiskLimits(max_position_pct=25.0, max_gross_exposure_pct=50.0,
                        max_open_positions=5, max_trade_pct=25.0)
    engine = RiskEngine(limits, GuardianConfig(kill_switch_file=None), 10_000.0)
    broker = PaperBroker(config, SYMBOLS, risk=limits)
    signals = [Signal("s", symbol, 0, 1.0) for symbol in SYMBOLS]
    outcome = walk_batch(broker, _batch(), signals, engine)
    verdicts = [(d.approved, d.reason) for d in outcome.decisions]
    # 20 % each: two fit under 50 % gross, the third (60 %) is denied though alone it fits.
    assert verdicts == [(True, ""), (True, ""), (False, "max_gross_exposure")]
    assert {f.symbol for f in outcome.fills} == {"AAA/USDT", "BBB/USDT"}
    assert all(f.side is Side.BUY for f in outcome.fills)


def test_exposure_portfolio_adds_working_orders_at_their_reference_price() -> None:
    broker = PaperBroker(BacktestConfig(), SYMBOLS)
    batch = _batch()
    walk_batch(broker, MarketBatch(0, 0, "TEST", SYMBOLS, 3_600_000, batch.ts[:1],
                                   batch.open[:1], batch.high[:1], batch.low[:1],
                                   batch.close[:1], batch.volume[:1]), [], ApproveAll())
    request = broker.order_for(Signal("s", "BBB/USDT", 0, 1.0), 100.0, 1e6, 0)
    assert request is not None
    broker.submit(request)
    assert broker.portfolio().positions == ()
    exposed = broker.exposure_portfolio()
    assert [(p.symbol, p.quantity) for p in exposed.positions] == [
        ("BBB/USDT", request.quantity)]
    assert exposed.gross_exposure == request.quantity * 100.0

