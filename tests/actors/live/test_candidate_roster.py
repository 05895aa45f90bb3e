"""Candidates that come and go while a SIM session runs (``promote.py candidate add|remove``).

A ledger policy is added as a candidate from step ``ADD_AT`` and the configured candidate is
removed from step ``REMOVE_AT``: the added one starts flat at its first step (warmed up from the
feeds' history), the removed one stops after the step before, both are in ``policies.json``
and ``session.md``, and the candidates subtree holds exactly the trading ones. Killing the added
candidate and the session actor after the changes leaves every book as it was undisturbed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import ray

from actors.adapters.session_store import SessionStore
from actors.governance.live import CONTROL, candidate_add_request, candidate_remove_request
from actors.live.chaos import ChaosMonkey
from actors.live.names import SessionNames, candidate_actor
from actors.live.roster_file import load_roster
from core.governance.runtime import runtime_spec
from core.trading.choice import StrategyChoice
from tests.actors.live.sessions import read, run, session_config

pytestmark = pytest.mark.usefixtures("ray_session")

ADD_AT, REMOVE_AT, KILL_AFTER = 50, 90, 65
FILES = ("orders.csv", "fills.csv", "equity.csv", "risk_events.jsonl")


def config(tmp_path: Path, shared_data: Path, name: str):
    folder = tmp_path / name
    folder.mkdir()
    return session_config(folder, shared_data, symbols=("BTC/USDT",), duration="60d",
                          batch_bars=12,
                          candidates=[{"name": "meanrev", "strategy": "mean_reversion"}])


def momentum(loaded):
    cfg = loaded.config
    choice = StrategyChoice("p", strategy="momentum", params=(("fast", 5), ("slow", 20)))
    return runtime_spec(choice, cfg.backtest, cfg.risk.effective(), tuple(cfg.data.symbols),
                        cfg.data.timeframe)


def run_with_changes(loaded, session_id: str, *, disturb: bool):
    namespace = ray.get_runtime_context().namespace
    spec = momentum(loaded)
    added = candidate_actor(f"p-{spec.hash}")
    session = SessionNames.build(("BTC/USDT",), []).session
    asked: list[str] = []
    killed: list[str] = []
    monkey = ChaosMonkey([added, session], namespace)

    def on_step(seq: int, _result) -> None:
        if not asked:
            control = ray.get_actor(CONTROL, namespace=namespace)
            add = {**candidate_add_request(spec, "test add"), "not_before_seq": ADD_AT}
            remove = {**candidate_remove_request("x", "test remove"), "name": "meanrev",
                      "not_before_seq": REMOVE_AT}
            asked.append(ray.get(control.request_change.remote(add), timeout=30))
            asked.append(ray.get(control.request_change.remote(remove), timeout=30))
        if disturb and seq >= KILL_AFTER and not killed:
            monkey.kill(added, "SIGKILL")
            monkey.kill(session, "ray.kill")
            killed.append("both")

    result = run(loaded, session_id, on_step=on_step)
    assert asked and (killed or not disturb)
    return result, spec


def books(folder: Path) -> dict[str, tuple]:
    with SessionStore(folder / "session.sqlite") as store:
        return {book: (store.equity(book), [(f.ts, f.side, f.quantity, f.price)
                                            for f in store.fills(book)])
                for book in store.books()}


def test_candidates_come_and_go_at_step_boundaries_and_survive_kills(tmp_path, shared_data):
    loaded = config(tmp_path, shared_data, "plain")
    done, spec = run_with_changes(loaded, "roster", disturb=False)
    name = f"p-{spec.hash}"
    roster = load_roster(done.folder / "state", ("meanrev",))
    assert [(c.from_seq, c.action, c.name) for c in roster.changes] == [
        (ADD_AT, "add", name), (REMOVE_AT, "remove", "meanrev")]
    timeline_ts = _step_starts(done)
    found = books(done.folder)
    (added_ts, _), added_fills = found[f"candidate:{name}"]
    (removed_ts, _), _ = found["candidate:meanrev"]
    assert int(added_ts[0]) == timeline_ts[ADD_AT]  # flat from its first step on
    assert added_fills and min(f[0] for f in added_fills) >= timeline_ts[ADD_AT]
    assert int(removed_ts[-1]) < timeline_ts[REMOVE_AT] <= int(removed_ts[-1]) + 12 * 3_600_000
    policies = json.loads((done.folder / "policies.json").read_text())
    assert policies[name]["policy"] == spec.hash and policies[name]["first_step"] == ADD_AT
    assert policies["meanrev"]["last_step"] == REMOVE_AT - 1
    summary = (done.folder / "session.md").read_text()
    assert f"| {name} | {spec.hash} |" in summary
    # the same changes with the added candidate and the session actor killed after them
    again, _ = run_with_changes(config(tmp_path, shared_data, "killed"), "roster-killed",
                                disturb=True)
    for file in FILES:
        assert read(again.folder, file) == read(done.folder, file), file
    disturbed = books(again.folder)
    assert disturbed.keys() == found.keys()
    for book, ((ts, equity), fills) in found.items():
        (ts2, equity2), fills2 = disturbed[book]
        assert np.array_equal(ts, ts2) and np.array_equal(equity, equity2), book
        assert fills == fills2, book


def _step_starts(result) -> list[int]:
    with SessionStore(result.folder / "session.sqlite") as store:
        ts, _ = store.equity("live")
    return [int(t) for t in ts[::12]]
