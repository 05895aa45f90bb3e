"""A promotion while a SIM session runs: the active slot's policy is swapped at a step boundary.

The old strategy (momentum) holds a position at the swap; the new one (an alpha whose signal
is always 0) never trades. With ``keep`` the position stays, and its protective exit (time stop
or stop-loss) still fires after the swap, under the old strategy's id; with ``flatten`` it is
closed at the swap's first bar. The swap is in the schedule file and the summary; a slot killed
after the swap changes no file; the swap step never depends on when the request came.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import ray

from actors.governance.live import CONTROL
from actors.live.chaos import ChaosMonkey
from actors.live.names import SessionNames
from actors.live.policy_swaps import load_schedule
from core.governance.runtime import runtime_spec
from core.trading.choice import StrategyChoice
from tests.actors.live.sessions import read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

NEVER_TRADES = "(sign (sub close close))"
SWAP_AT = 60
FILES = ("orders.csv", "fills.csv", "positions.csv", "equity.csv", "risk_events.jsonl",
         "diary.jsonl")
STRATEGY = ('[strategy]\nname = "momentum"\nparams = { fast = 5, slow = 20 }\n'
            '[backtest.stops]\nstop_loss_pct = 3.0\ntime_stop_bars = 40\n')


def config(tmp_path: Path, shared_data: Path, name: str):
    folder = tmp_path / name
    folder.mkdir()
    return session_config(folder, shared_data, symbols=("BTC/USDT",), duration="60d",
                          batch_bars=12, candidates=[], extra=STRATEGY)


def swap_request(loaded, positions: str) -> dict:
    cfg = loaded.config
    spec = runtime_spec(StrategyChoice("live", alpha=NEVER_TRADES), cfg.backtest,
                        cfg.risk.effective(), tuple(cfg.data.symbols), cfg.data.timeframe)
    return {"spec": spec.canonical_json(), "reason": f"test swap, {positions}",
            "positions": positions, "not_before_seq": SWAP_AT}


def run_with_swap(loaded, session_id: str, positions: str, kill_slot_after: int | None = None):
    namespace = ray.get_runtime_context().namespace
    asked: list[str] = []
    killed: list[int] = []
    monkey = ChaosMonkey([SessionNames.build(("BTC/USDT",), []).slot], namespace)

    def on_step(seq: int, _result) -> None:
        if not asked:
            control = ray.get_actor(CONTROL, namespace=namespace)
            asked.append(ray.get(control.request_change.remote(swap_request(loaded, positions)),
                                 timeout=30))
        if kill_slot_after is not None and seq >= kill_slot_after and not killed:
            monkey.kill(SessionNames.build(("BTC/USDT",), []).slot, "SIGKILL")
            killed.append(seq)

    result = run(loaded, session_id, on_step=on_step)
    assert asked and (kill_slot_after is None or killed)
    return result


def rows(folder: Path, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(read(folder, name).decode().splitlines()))


def test_a_swap_keeps_positions_and_stops_and_survives_a_slot_kill(tmp_path, shared_data):
    loaded = config(tmp_path, shared_data, "keep")
    kept = run_with_swap(loaded, "keep", "keep")
    schedule = load_schedule(kept.folder / "state", StrategyChoice("live"))
    assert [s.from_seq for s in schedule.swaps] == [SWAP_AT]
    diary = [json.loads(line) for line in read(kept.folder, "diary.jsonl").decode().splitlines()]
    swaps = [d for d in diary if d["decision"].startswith("policy swap")]
    assert len(swaps) == 1 and "keep positions" in swaps[0]["decision"]
    swap_ts = int(swaps[0]["ts"])
    new_id = swaps[0]["strategy_id"]
    assert not new_id.startswith("momentum-")
    fills = rows(kept.folder, "fills.csv")
    before = [f for f in fills if int(f["ts"]) <= swap_ts]
    after = [f for f in fills if int(f["ts"]) > swap_ts]
    held = sum(float(f["quantity"]) * (1 if f["side"] == "BUY" else -1) for f in before)
    assert held > 0, "the old strategy held no position at the swap: pick another step"
    assert after and all(f["strategy_id"] != new_id for f in after)  # the new one never trades
    assert {f["reason"] for f in after} <= {"stop_loss", "take_profit", "time_stop"}
    assert after[0]["side"] == "SELL"  # the kept position's protective exit fired after it
    summary = (kept.folder / "session.md").read_text()
    assert "## Policy swaps" in summary and f"| {SWAP_AT} |" in summary
    # the slot killed after the swap: its successor reads the schedule, the files do not move
    again = run_with_swap(config(tmp_path, shared_data, "kill"), "kill", "keep",
                          kill_slot_after=SWAP_AT + 3)
    for name in FILES:
        assert read(again.folder, name) == read(kept.folder, name), name


def test_a_swap_that_flattens_closes_the_position_at_its_first_bar(tmp_path, shared_data):
    loaded = config(tmp_path, shared_data, "flatten")
    done = run_with_swap(loaded, "flatten", "flatten")
    diary = [json.loads(line) for line in read(done.folder, "diary.jsonl").decode().splitlines()]
    (swap,) = [d for d in diary if d["decision"].startswith("policy swap")]
    swap_ts = int(swap["ts"])
    orders = rows(done.folder, "orders.csv")
    closing = [o for o in orders if int(o["ts"]) == swap_ts and o["strategy_id"] ==
               swap["strategy_id"]]
    assert len(closing) == 1 and closing[0]["side"] == "SELL" and float(closing[0]["target"]) == 0
    later = [o for o in orders if int(o["ts"]) > swap_ts]
    assert later == []  # flat, and the new strategy never trades


def test_a_tighter_risk_template_is_swapped_in_live_and_a_looser_one_is_refused(
        tmp_path, shared_data):
    loaded = config(tmp_path, shared_data, "tighter")
    cfg = loaded.config
    limits = cfg.risk.effective()
    choice = StrategyChoice("live", strategy="momentum", params=(("fast", 5), ("slow", 20)))
    market = (cfg.backtest, tuple(cfg.data.symbols), cfg.data.timeframe)

    def spec(**risk):
        return runtime_spec(choice, market[0], limits.model_copy(update=risk), *market[1:])

    tighter = spec(max_position_pct=limits.max_position_pct / 2)
    looser = spec(max_position_pct=limits.max_position_pct * 2)
    namespace = ray.get_runtime_context().namespace
    asked: list[str] = []

    def on_step(seq: int, _result) -> None:
        if not asked:
            control = ray.get_actor(CONTROL, namespace=namespace)
            for policy, at in ((looser, SWAP_AT - 10), (tighter, SWAP_AT)):
                asked.append(ray.get(control.request_change.remote(
                    {"spec": policy.canonical_json(), "reason": "test", "positions": "keep",
                     "not_before_seq": at}), timeout=30))

    done = run(loaded, "tighter", on_step=on_step)
    schedule = load_schedule(done.folder / "state", StrategyChoice("live"))
    assert [(s.from_seq, s.policy.hash) for s in schedule.swaps] == [(SWAP_AT, tighter.hash)]
    events = [json.loads(line) for line in read(done.folder, "risk_events.jsonl").decode()
              .splitlines()]
    (switch,) = [e for e in events if e["reason"] == "risk_template"]
    assert f"policy swap to {tighter.hash} at step {SWAP_AT}" in switch["detail"]
    orders = [o for o in rows(done.folder, "orders.csv") if o["kind"] == "signal"
              and float(o["target"]) != 0.0]
    before = [float(o["target_notional"]) for o in orders if int(o["ts"]) < switch["ts"]]
    after = [float(o["target_notional"]) for o in orders if int(o["ts"]) >= switch["ts"]]
    assert before and after and max(after) <= 0.55 * max(before)  # half the position cap
