"""Alpha decay in SIM: the drift sentry fires at the bar it must, and the session rolls back.

The ledger's active policy is momentum (5/20) proven on BTC's rally of late 2020; the session
trades May 2022, when it loses. Its sentry (the guardian's, calibrated from the policy's own
backtest returns to one false alarm per 90 days) fires at exactly the bar where the detectors,
run offline on the policy's backtest of the same bars, first cross their thresholds, in the
decision step of that bar. The session writes the theory packet, swaps back to the configured
strategy the first promotion replaced, and appends the ledger's rollback entry with its
latency. A session actor killed after the alarm changes no file and adds no second rollback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.session_store import SessionStore
from actors.governance.drift_model import drift_model_for
from actors.governance.evidence import load_market
from actors.live.chaos import ChaosMonkey
from actors.live.names import SessionNames
from actors.live.policy_swaps import load_schedule
from actors.live.roster_file import load_roster
from core.data.times import parse_time_ms
from core.governance.drift import DriftDetectors
from core.governance.expectation import expectation
from core.governance.ledger import Action, active_policy, next_entry
from core.governance.policy import PolicySpec, policy_spec
from core.governance.roster import RosterChange
from core.governance.runtime import runtime_spec
from core.trading.choice import StrategyChoice
from core.trading.slot import builtin_definition
from tests.actors.live.sessions import read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

PROOF = (parse_time_ms("2020-10-01"), parse_time_ms("2021-01-01"))
FILES = ("orders.csv", "fills.csv", "equity.csv", "risk_events.jsonl", "diary.jsonl")


def prepared(tmp_path: Path, shared_data: Path, name: str, on_alarm: str = ""):
    folder = tmp_path / name
    folder.mkdir()
    extra = f"[governance.drift]\non_alarm = {on_alarm}\n" if on_alarm else ""
    loaded = session_config(folder, shared_data, symbols=("BTC/USDT",), duration="31d",
                            until="2022-06-01", batch_bars=24, candidates=[], extra=extra)
    config = loaded.config
    market = (config.backtest, config.risk.effective(), ("BTC/USDT",), "1h")
    baseline = runtime_spec(StrategyChoice("live", strategy=config.strategy.name,
                                           params=tuple(sorted(config.strategy.params.items()))),
                            *market)
    promoted = policy_spec(builtin_definition("momentum", {"fast": 5, "slow": 20}), *market,
                           window=PROOF)
    with PolicyLedger(Path(config.store.path)) as ledger:
        for n, (action, spec) in enumerate(((Action.BASELINE, baseline),
                                            (Action.PROMOTE, promoted))):
            ledger.append(next_entry(ledger.tail(), action, spec, decided_by="operator:test",
                                     reason="set-up", at_ms=n))
    return loaded, baseline, promoted


def offline_alarm_bar(loaded, spec: PolicySpec, timeline_start: int) -> int:
    """The bar where the detectors first cross, on the policy's backtest of the same bars."""
    config = loaded.config
    model = drift_model_for(config, spec)
    assert model is not None
    candles = load_market(config, spec, timeline_start, parse_time_ms("2022-06-01"))
    returns = expectation(spec, candles).returns
    detectors = DriftDetectors(model)
    for i, r in enumerate(returns):
        if detectors.update(float(r)):
            return int(candles[0].timestamp[i])
    raise AssertionError("the policy never decays on these bars")


def test_decay_fires_the_sentry_and_the_session_rolls_back(tmp_path, shared_data):
    loaded, baseline, promoted = prepared(tmp_path, shared_data, "decay")
    result = run(loaded, "decay")
    packets = sorted((result.folder / "drift").glob("*.json"))
    assert packets, "the sentry never fired"
    alarm = json.loads(packets[0].read_text())
    assert alarm["policy"] == promoted.hash and alarm["kind"] == "drift_alarm"
    assert alarm["statistic"] > alarm["threshold"] and alarm["expected_mean"] > 0
    assert alarm["live_mean"] < alarm["expected_mean"] and alarm["regime"]
    equity = read(result.folder, "equity.csv").decode().splitlines()
    first_bar = int(equity[1].split(",")[0])
    assert alarm["ts"] == offline_alarm_bar(loaded, promoted, first_bar)
    i0 = (alarm["ts"] - first_bar) // 3_600_000
    assert alarm["seq"] == i0 // 24  # raised in the decision step of that bar
    rollback = alarm["rollback"]
    assert rollback["status"] == "applied" and rollback["policy"] == baseline.hash
    assert rollback["from_seq"] == alarm["seq"] + 2  # the first step not yet published
    assert rollback["latency_bars"] == (rollback["ts"] - alarm["ts"]) // 3_600_000 > 0
    with PolicyLedger(Path(loaded.config.store.path)) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries[-2:]] == [Action.ROLLBACK, Action.RETIRE]
    rolled = entries[-2]
    assert rolled.decided_by == "rule:drift-sentry" and active_policy(entries) == baseline.hash
    assert f"rollback latency {rollback['latency_bars']} bar(s)" in rolled.reason
    assert [g.name for g in rolled.gates] == ["sentry:drift_alarm:" + alarm["detector"],
                                               "rollback_latency_bars"]
    assert rolled.gates[1].value == rollback["latency_bars"]
    assert entries[-1].policy_hash == promoted.hash  # the decayed policy is retired
    orders = read(result.folder, "orders.csv").decode().splitlines()[1:]
    after = [line.split(",") for line in orders if int(line.split(",")[0]) >= rollback["ts"]]
    assert after and all(o[2].startswith("momentum-") for o in after)
    summary = (result.folder / "session.md").read_text()
    assert f"rolled back to {baseline.hash}" in summary and "## Drift sentry" in summary
    events = [json.loads(line) for line in read(result.folder, "risk_events.jsonl").decode()
              .splitlines()]
    assert any(e["kind"] == "governance" and e["reason"] == "drift_alarm" for e in events)
    diary = [json.loads(line) for line in read(result.folder, "diary.jsonl").decode()
             .splitlines()]
    assert any(d["strategy_id"] == "regime" for d in diary)

    # the session actor killed once after the alarm: same files, one rollback in the ledger
    again, _, _ = prepared(tmp_path, shared_data, "killed")
    namespace = ray.get_runtime_context().namespace
    monkey = ChaosMonkey([SessionNames.build(("BTC/USDT",), []).session], namespace)
    killed: list[int] = []

    def kill_after_the_alarm(seq: int, _result) -> None:
        if seq >= alarm["seq"] and not killed:
            monkey.kill(SessionNames.build(("BTC/USDT",), []).session, "SIGKILL")
            killed.append(seq)

    second = run(again, "killed", on_step=kill_after_the_alarm)
    assert killed
    for name in FILES:
        assert read(second.folder, name) == read(result.folder, name), name
    with PolicyLedger(Path(again.config.store.path)) as ledger:
        assert [e.action for e in ledger.entries()].count(Action.ROLLBACK) == 1


def orders_before(folder: Path, ts: int) -> list[list[str]]:
    lines = read(folder, "orders.csv").decode().splitlines()[1:]
    return [line.split(",") for line in lines if int(line.split(",")[0]) < ts]


def orders_from(folder: Path, ts: int) -> list[list[str]]:
    lines = read(folder, "orders.csv").decode().splitlines()[1:]
    return [line.split(",") for line in lines if int(line.split(",")[0]) >= ts]


def test_demote_at_half_size_and_freeze_the_candidates(tmp_path, shared_data):
    loaded, baseline, promoted = prepared(tmp_path, shared_data, "demote",
                                          '["freeze_candidates", "halve_size", "demote"]')
    result = run(loaded, "demote")
    alarm = json.loads(sorted((result.folder / "drift").glob("*.json"))[0].read_text())
    assert alarm["action"] == "freeze_candidates+halve_size+demote"
    assert alarm["freeze_candidates"] == "frozen"
    rollback = alarm["rollback"]
    assert rollback["status"] == "applied" and rollback["policy"] == baseline.hash
    assert rollback["size_scale"] == 0.5 and rollback["demoted"]["status"] == "applied"
    after = [o for o in orders_from(result.folder, rollback["ts"]) if float(o[8])]
    before = [o for o in orders_before(result.folder, alarm["ts"]) if float(o[8])]
    full = max(abs(float(o[9])) for o in before)
    assert after and all(abs(float(o[9])) <= 0.55 * full for o in after)  # half the size
    with PolicyLedger(Path(loaded.config.store.path)) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries[-2:]] == [Action.ROLLBACK, Action.CANDIDATE_ADD]
    assert entries[-1].policy_hash == promoted.hash  # demoted: a candidate, not retired
    roster = load_roster(result.folder / "state", ())
    assert [(c.action, c.name) for c in roster.changes] == [
        ("add", f"p-{promoted.hash}"), ("freeze", "")]  # the demoted joins, then the freeze
    assert roster.changes[0].from_seq == rollback["from_seq"]
    assert "frozen" in roster.refusal(RosterChange(rollback["from_seq"] + 1, "add", "p-x",
                                                   spec="{}"))
    with SessionStore(result.folder / "session.sqlite") as store:
        ts, _ = store.equity(f"candidate:p-{promoted.hash}")
    assert len(ts) and int(ts[0]) == rollback["ts"]  # paper-trades from the swap's bar
    summary = (result.folder / "session.md").read_text()
    assert "size x0.5" in summary and "candidates frozen" in summary


def test_halve_size_resizes_the_held_position_at_once(tmp_path, shared_data):
    loaded, _, promoted = prepared(tmp_path, shared_data, "halve", '"halve_size"')
    result = run(loaded, "halve")
    alarm = json.loads(sorted((result.folder / "drift").glob("*.json"))[0].read_text())
    halved = alarm["halve_size"]
    assert halved["status"] == "applied" and halved["policy"] == promoted.hash
    assert halved["size_scale"] == 0.5 and "rollback" not in alarm
    schedule = load_schedule(result.folder / "state", StrategyChoice("live"))
    assert [(s.from_seq, s.size_scale) for s in schedule.swaps] == [(halved["from_seq"], 0.5)]
    before = orders_before(result.folder, halved["ts"])
    assert before and float(before[-1][8]) > 0, "no position held at the swap: pick another"
    first = orders_from(result.folder, halved["ts"])[0]  # resized on the swap's first bar
    assert int(first[0]) == halved["ts"] and first[5] == "SELL" and first[2] == before[-1][2]
    assert float(first[8]) == float(before[-1][8])  # the same target, at half the size
    assert 0.45 < float(first[9]) / float(before[-1][9]) < 0.55
    with PolicyLedger(Path(loaded.config.store.path)) as ledger:
        assert active_policy(ledger.entries()) == promoted.hash  # no ledger change
