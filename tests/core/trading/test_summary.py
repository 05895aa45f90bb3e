"""SessionSummary: golden values on a hand-made session and a golden session.md."""

from __future__ import annotations

import math

import pytest

from core.errors import DataValidationError
from core.trading.latency import LatencyRecorder
from core.trading.messages import Fill, RiskEvent, Side, TradingState
from core.trading.summary import render_markdown, summarize_session

H = 3_600_000
T0 = 1_699_999_200_000  # 2023-11-14 22:00 UTC
TS = [T0 + k * H for k in range(5)]
EQUITY = [1000.0, 1100.0, 990.0, 1200.0, 1150.0]
FILLS = [Fill("A", "s", "BTC/USDT", "core", TS[1], Side.BUY, 0.5, 100.0, 1.0, 0.25),
         Fill("A", "s", "BTC/USDT", "core", TS[1], Side.BUY, 0.5, 102.0, 0.5, 0.0),
         Fill("B", "s", "BTC/USDT", "core", TS[3], Side.SELL, 1.0, 110.0, 0.25, 0.5)]
EVENTS = [RiskEvent(TS[1], "denied", "max_trade_size", client_order_id="C"),
          RiskEvent(TS[2], "denied", "price_band", client_order_id="D"),
          RiskEvent(TS[2], "denied", "max_trade_size", client_order_id="E"),
          RiskEvent(TS[4], "breaker", "daily_loss", state=TradingState.HALTED)]


def make_summary(**overrides):
    recorder = LatencyRecorder()
    recorder.extend("signal", [1.0, 2.0, 3.0, 4.0])
    recorder.add("risk", 0.5)
    kwargs = dict(fills=FILLS, risk_events=EVENTS, restarts={"feed": 1, "executor": 2},
                  latency=recorder.stats(), info={"config": "abc123", "mode": "SIM"},
                  data={"venue": "binance", "symbols": "BTC/USDT"})
    kwargs.update(overrides)
    return summarize_session("sess-1", TS, EQUITY, **kwargs)


def test_golden_values_of_a_hand_made_session():
    s = make_summary()
    assert (s.bars, s.first_ts, s.last_ts) == (5, TS[0], TS[-1])
    assert (s.start_equity, s.end_equity, s.pnl) == (1000.0, 1150.0, 150.0)
    assert s.pnl_pct == pytest.approx(15.0, abs=1e-12)
    assert s.max_drawdown_pct == pytest.approx(-10.0, abs=1e-12)  # 990 / 1100 - 1
    assert s.max_drawdown_abs == 110.0
    assert (s.trades, s.fills) == (2, 3)
    assert (s.fees, s.slippage, s.notional) == (1.75, 0.75, 211.0)
    assert s.denials == (("max_trade_size", 2), ("price_band", 1)) and s.total_denials == 3
    assert s.risk_events == (("breaker", 1), ("denied", 3)) and s.final_state == "HALTED"
    assert s.restarts == (("executor", 2), ("feed", 1)) and s.total_restarts == 3
    assert [(x.stage, x.count, x.p50) for x in s.latency] == [("signal", 4, 2.5),
                                                              ("risk", 1, 0.5)]


def test_initial_capital_counts_in_pnl_and_drawdown():
    s = make_summary(initial_equity=1250.0)
    assert s.pnl == -100.0 and s.pnl_pct == pytest.approx(-8.0, abs=1e-12)
    assert s.max_drawdown_pct == pytest.approx(-20.8, abs=1e-12)  # 990 / 1250 - 1
    assert s.max_drawdown_abs == 260.0


def test_an_empty_session_has_undefined_returns_and_no_counts():
    s = summarize_session("empty", [], [])
    assert s.bars == 0 and s.first_ts is None and math.isnan(s.pnl)
    assert math.isnan(s.max_drawdown_pct) and s.max_drawdown_abs == 0.0
    assert (s.trades, s.fills, s.fees, s.final_state) == (0, 0, 0.0, "")
    text = render_markdown(s)
    assert "No order was denied." in text and "No latency sample." in text
    assert "| PnL | n/a |" in text and "- first bar: n/a" in text


@pytest.mark.parametrize("ts, equity, match", [
    (TS[:4], EQUITY, "4 equity times for 5 equity values"),
    (TS, [1.0, math.nan, 1.0, 1.0, 1.0], "equity is not finite"),
    ([TS[0], TS[2], TS[1], TS[3], TS[4]], EQUITY, "do not strictly increase"),
])
def test_inconsistent_equity_is_refused(ts, equity, match):
    with pytest.raises(DataValidationError, match=match):
        summarize_session("bad", ts, equity)


GOLDEN_MD = """\
# Session sess-1 (live)

- config: abc123
- mode: SIM

## Result

| metric | value |
|---|---|
| start equity | 1,000.00 |
| end equity | 1,150.00 |
| PnL | 150.00 |
| PnL % | +15.00 % |
| max drawdown % | -10.00 % |
| max drawdown | 110.00 |
| trades | 2 |
| fills | 3 |
| fees | 1.75 |
| slippage | 0.75 |
| traded notional | 211.00 |

## Risk

- final trading state: HALTED
- denials: 3

| denial reason | count |
|---|---|
| max_trade_size | 2 |
| price_band | 1 |

| risk event | count |
|---|---|
| breaker | 1 |
| denied | 3 |

## Supervision

- restarts: 3

| actor | restarts |
|---|---|
| executor | 2 |
| feed | 1 |

## Latency

| stage | samples | p50 ms | p99 ms | p99.9 ms | max ms | exact |
|---|---|---|---|---|---|---|
| signal | 4 | 2.500 | 3.970 | 3.997 | 4.000 | yes |
| risk | 1 | 0.500 | 0.500 | 0.500 | 0.500 | yes |

## Data

- bars: 5
- first bar: 2023-11-14 22:00:00 UTC
- last bar: 2023-11-15 02:00:00 UTC
- venue: binance
- symbols: BTC/USDT
"""


def test_session_md_is_golden_and_deterministic():
    assert render_markdown(make_summary()) == GOLDEN_MD
    assert render_markdown(make_summary()) == render_markdown(make_summary())
