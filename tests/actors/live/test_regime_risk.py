"""The regime state machine selects the guardian's risk template (``[governance.regime_risk]``).

The session (the shared ``SHORT`` one: 30 days of BTC/USDT and ETH/USDT, 1h bars, steps of
12 bars) trades a tighter profile ``storm`` (4 % per position instead of the session's 10 %)
from the step after one whose close is in a calm range, and the session's limits otherwise.
A restarted guardian selects the same: the guardian's sentry and risk engine, rebuilt from
their snapshot states in the middle of a calm range, go on exactly as the uninterrupted pair.
"""

from __future__ import annotations

import bisect
import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.data_source import load_candles
from actors.live.guardian_sentry import GuardianSentry, SentrySpec
from configs.guardian import GuardianConfig
from configs.risk import CONSERVATIVE, WIDE
from core.trading.messages import MarketBatch, PortfolioSnapshot
from core.trading.risk import RiskEngine
from core.trading.trader import StepOutcome
from tests.actors.live.sessions import SHORT, read, run, session_config

HOUR = 3_600_000
STEP_MS = SHORT["batch_bars"] * HOUR
REGIME_RISK = """
[risk.profiles.storm]
per_trade_risk_pct = 0.5
max_position_pct = 4.0
max_gross_exposure_pct = 20.0
daily_drawdown_cut_pct = 5.0
cooldown_minutes = 60
[governance.regime_risk]
enabled = true
templates = { range_calm = "storm" }
"""
SESSION = CONSERVATIVE.merged_with(WIDE)
STORM = SESSION.model_copy(update={"max_position_pct": 4.0, "max_gross_exposure_pct": 20.0})


def jsonl(folder: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in read(folder, name).decode().splitlines()]


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(read(folder, name).decode().splitlines()))


def regime_at(transitions: list[tuple[int, str]], ts: int) -> str:
    """The regime of bar ``ts`` from the diary's transitions."""
    k = bisect.bisect_right([t for t, _ in transitions], ts)
    return transitions[k - 1][1] if k else "unknown"


@pytest.mark.usefixtures("ray_session")
def test_the_regime_at_a_steps_close_selects_the_next_steps_limits(tmp_path, shared_data,
                                                                   baselines):
    baseline = baselines.get(**SHORT)
    folder = run(session_config(tmp_path, shared_data, extra=REGIME_RISK, **SHORT),
                 "regime-risk").folder

    # the regime path does not depend on the limits
    diary = jsonl(folder, "diary.jsonl")
    regimes = [d for d in diary if d["decision"].startswith("regime ")]
    assert regimes == [d for d in jsonl(baseline.folder, "diary.jsonl")
                       if d["strategy_id"] == "regime"]
    transitions = [(d["ts"], d["decision"].split(" -> ")[1]) for d in regimes]

    # a change of template exactly where the regime at a step's close selects another one
    templates = [d for d in diary if d["decision"].startswith("risk template ")]
    events = [e for e in jsonl(folder, "risk_events.jsonl") if e["reason"] == "risk_template"]
    assert [(e["kind"], e["ts"]) for e in events] == [("governance", d["ts"]) for d in templates]
    assert {d["strategy_id"] for d in templates} == {"regime"} and len(templates) >= 6
    bars = [int(r["ts"]) for r in rows(folder, "equity.csv")]
    closes = range(bars[0] + STEP_MS - HOUR, bars[-1] + 1, STEP_MS)  # each step's last bar
    selected, expected = "session", []
    for close in closes:
        regime = regime_at(transitions, close)
        name = "storm" if regime == "range_calm" else "session"
        if name != selected:
            expected.append((close, f"risk template {name} (regime {regime})"))
            selected = name
    assert [(d["ts"], d["decision"]) for d in templates] == expected
    assert "max_position_pct 10 -> 4" in events[0]["detail"]

    # orders after a switch to "storm" open at most 4 % of equity; the baseline's were bigger
    equity = dict(zip(bars, (float(r["equity"]) for r in rows(folder, "equity.csv")),
                      strict=True))
    theirs = {o["client_order_id"]: o for o in rows(baseline.folder, "orders.csv")}
    switches = [d["ts"] for d in templates]
    tight = 0
    for order in rows(folder, "orders.csv"):
        ts, target = int(order["ts"]), float(order["target_notional"])
        k = bisect.bisect_left(switches, ts)  # the last switch at a step before the order's
        if target == 0.0 or not k or "storm" not in templates[k - 1]["decision"]:
            continue
        tight += 1
        notional = float(order["quantity"]) * float(order["reference_price"])
        assert target <= 0.04 * equity[ts] * (1 + 1e-9) and notional <= target * (1 + 1e-9)
        assert float(theirs[order["client_order_id"]]["target_notional"]) > 2 * target, order
    assert tight >= 6


def steps(shared_data: Path) -> list[tuple[MarketBatch, StepOutcome]]:
    """May 2025 of BTC/USDT in steps of 12 bars, with a flat book."""
    candles = load_candles(shared_data, venue="BINANCE", symbol="BTC/USDT", timeframe="1h",
                           start_ms=1_746_057_600_000, end_ms=1_748_736_000_000)
    out = []
    for seq, i in enumerate(range(0, len(candles.timestamp) - 11, 12)):
        part = slice(i, i + 12)
        column = [getattr(candles, f)[part].reshape(-1, 1)
                  for f in ("open", "high", "low", "close", "volume")]
        batch = MarketBatch(seq, i, "BINANCE", ("BTC/USDT",), HOUR,
                            candles.timestamp[part], *column)
        flat = PortfolioSnapshot(int(batch.ts[-1]), 10_000.0, 10_000.0, 0.0, ())
        out.append((batch, StepOutcome((), (), (), (), np.full(12, 10_000.0), flat, ())))
    return out


def test_a_restarted_guardian_selects_the_same_templates(tmp_path, shared_data):
    spec = SentrySpec("p1", risk_templates=(("range_calm", "storm", STORM),))
    guardian = GuardianConfig()

    def go(sentry, engine, part):
        seen = []
        for batch, outcome in part:
            diary, events, _ = sentry.after_step(batch.seq, batch, outcome, engine)
            seen.append((batch.seq, engine.limits, diary, events))
        return seen

    market = steps(shared_data)
    whole = go(GuardianSentry(str(tmp_path), spec, None, SESSION),
               RiskEngine(SESSION, guardian, 10_000.0), market)
    in_force = [limits for _, limits, _, _ in whole]
    assert STORM in in_force and SESSION in in_force
    cut = next(k for k in range(20, len(market)) if in_force[k - 1] == in_force[k] == STORM)

    sentry, engine = GuardianSentry(str(tmp_path), spec, None, SESSION), RiskEngine(
        SESSION, guardian, 10_000.0)
    first = go(sentry, engine, market[:cut])
    saved = pickle.loads(pickle.dumps((sentry.state, engine.to_state())))
    restarted = go(GuardianSentry(str(tmp_path), spec, saved[0], SESSION),
                   RiskEngine.from_state(saved[1]), market[cut:])
    assert first + restarted == whole
    switches = [(seq, e.detail) for seq, _, _, events in whole for e in events
                if e.reason == "risk_template"]
    assert any(seq > cut for seq, _ in switches)
    # a guardian that came back with the session's limits under "storm" would have told
    lost = go(GuardianSentry(str(tmp_path), spec, saved[0], SESSION),
              RiskEngine.from_state(saved[1], limits=SESSION), market[cut:cut + 1])
    assert [e.reason for e in lost[0][3]] == ["risk_template"] and lost[0][1] == STORM


def test_without_templates_the_guardian_keeps_the_session_limits(tmp_path, shared_data):
    sentry = GuardianSentry(str(tmp_path), SentrySpec("p1"), None, SESSION)
    engine = RiskEngine(SESSION, GuardianConfig(), 10_000.0)
    for batch, outcome in steps(shared_data):
        diary, events, _ = sentry.after_step(batch.seq, batch, outcome, engine)
        assert not [d for d in diary if d.decision.startswith("risk template")]
        assert not events and engine.limits is SESSION


def test_a_swap_sets_the_policys_template_and_scales_its_drift_model(tmp_path, shared_data):
    from actors.live.policy_swaps import append_swap
    from core.governance.drift import DriftModel
    from core.governance.runtime import runtime_spec
    from core.governance.swaps import PolicySwap
    from core.trading.choice import StrategyChoice
    from tests.actors.live.sessions import session_config as config_of

    cfg = config_of(tmp_path, shared_data, symbols=("BTC/USDT",)).config
    tight = SESSION.model_copy(update={"max_position_pct": 4.0})
    policy = runtime_spec(StrategyChoice("live", strategy="momentum"), cfg.backtest, tight,
                          ("BTC/USDT",), "1h")
    model = DriftModel("x", 0.001, 0.01, 0.05, 5.0, 0.25, 4.0, 2160, 30.0, 0.5)
    append_swap(tmp_path, PolicySwap(3, policy.canonical_json(), drift=json.dumps(
        model.to_dict()), size_scale=0.5))
    sentry = GuardianSentry(str(tmp_path), SentrySpec("p1"), None, SESSION)
    engine = RiskEngine(SESSION, GuardianConfig(), 10_000.0)
    switched = []
    for batch, outcome in steps(shared_data)[:5]:
        switched += [(batch.seq, e) for e in sentry.before_step(batch.seq, int(batch.ts[0]),
                                                                   engine)]
        assert engine.limits == (tight if batch.seq >= 3 else SESSION)  # before trading
        sentry.after_step(batch.seq, batch, outcome, engine)
    ((seq, event),) = switched
    assert seq == 3 and f"policy swap to {policy.hash} at step 3" in event.detail
    watched = sentry.state.model
    assert watched is not None and watched["mean"] == 0.0005 and watched["std"] == 0.005
