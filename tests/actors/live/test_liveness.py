"""Heartbeats prove progress: a strategy that never returns is detected, restarted, disabled."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from actors.live.liveness import Progress, StuckError
from actors.live.poison import MAX_ATTEMPTS, PoisonGuard
from actors.live.slot import SlotService
from core.data.synthetic import generate_synthetic
from core.strategies.momentum import MomentumParams, compute_momentum
from core.strategies.registry import STRATEGIES, StrategySpec
from core.trading.messages import MarketBatch
from core.trading.runners import StrategyChoice


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_fails_only_while_work_runs_past_its_limit():
    clock = FakeClock()
    progress = Progress(5.0, clock=clock)
    progress.check()  # idle: fine
    with progress.working("step 3"):
        clock.now = 4.9
        progress.check()
        clock.now = 5.1
        with pytest.raises(StuckError, match=r"step 3 has run for 5.1 s \(limit 5 s\)"):
            progress.check()
    progress.check()  # the work ended: healthy again
    assert progress.completed == 1


def test_poison_counts_stuck_attempts_per_step_across_incarnations(tmp_path):
    first = PoisonGuard(tmp_path, "slot")
    assert first.inherited is None and first.begin(7) == 0
    assert not first.path.exists()  # a step nobody got stuck on writes nothing
    first.mark_stuck()
    first.mark_stuck()  # once per step
    second = PoisonGuard(tmp_path, "slot")  # the successor
    assert second.inherited is not None and second.inherited.stuck == 1
    assert second.begin(8) == 0  # another step: nothing inherited for it
    assert PoisonGuard(tmp_path, "slot").begin(8) == 0
    killed = PoisonGuard(tmp_path, "slot")  # died for another reason: not counted
    assert killed.begin(8) == 0
    killed.end()
    assert PoisonGuard(tmp_path, "slot").inherited is None
    guard = PoisonGuard(tmp_path, "slot")
    guard.begin(9)
    guard.mark_stuck()
    again = PoisonGuard(tmp_path, "slot")
    assert again.begin(9) == 1
    again.mark_stuck()
    assert PoisonGuard(tmp_path, "slot").begin(9) == MAX_ATTEMPTS
    guard.give_up("gave up")
    assert PoisonGuard(tmp_path, "slot").disabled_reason() == "gave up"


RELEASE = threading.Event()


def _never_returns(candles, params):
    RELEASE.wait(60)
    return compute_momentum(candles, params)


@pytest.fixture
def hanging_strategy(monkeypatch):
    spec = StrategySpec(name="hang", params_model=MomentumParams, symbols=1,
                        direction_required="either", compute=_never_returns,
                        description="never returns (test)")
    monkeypatch.setitem(STRATEGIES, "hang", spec)
    RELEASE.clear()
    yield spec
    RELEASE.set()


def _batch(seq: int = 0) -> MarketBatch:
    candles = generate_synthetic(symbol="BTC/USDT", timeframe="1h", bars=50, seed=1)
    column = {name: getattr(candles, name)[:, None] for name in
              ("open", "high", "low", "close", "volume")}
    return MarketBatch(seq, 0, "BINANCE", ("BTC/USDT",), 3_600_000, candles.timestamp,
                       **column)


def _slot(state_dir, stuck_after_s: float) -> SlotService:
    choice = StrategyChoice("live", "hang", (("fast", 5), ("slow", 20)))
    return SlotService(choice, ("BTC/USDT",), (), "none", np.arange(50), "BINANCE",
                       3_600_000, state_dir=str(state_dir), stuck_after_s=stuck_after_s)


def test_a_stuck_strategy_fails_the_heartbeat_and_is_disabled_after_two_hangs(
        tmp_path, hanging_strategy):
    threads = []
    for attempt in range(MAX_ATTEMPTS):
        slot = _slot(tmp_path, 0.2)
        assert slot.ping() == "ok"
        worker = threading.Thread(target=slot.on_batch, args=(_batch(),), daemon=True)
        worker.start()
        threads.append(worker)
        deadline = threading.Event()
        for _ in range(100):  # a second thread answers pings, but they prove no progress
            try:
                slot.ping()
            except StuckError as exc:
                assert "strategy step 0 has run for" in str(exc)
                break
            deadline.wait(0.02)
        else:
            raise AssertionError(f"attempt {attempt}: the stuck step was not detected")
    successor = _slot(tmp_path, 0.2)
    out = successor.on_batch(_batch())
    assert out.signals == [] and len(out.errors) == 1
    assert "disabled: it got stuck on step 0 2 times" in out.errors[0]
    later = _slot(tmp_path, 0.2).on_batch(_batch(1))  # it stays disabled
    assert later.errors == out.errors and successor.ping() == "ok"
    RELEASE.set()
    for worker in threads:
        worker.join(10)


def test_a_slot_whose_strategy_never_returns_still_starts(tmp_path, hanging_strategy):
    worker = threading.Thread(target=_slot, args=(tmp_path, 0.2), daemon=True)
    worker.start()
    worker.join(10.0)
    started = not worker.is_alive()
    RELEASE.set()  # let the warm-up go (the slot left it behind after 0.2 s)
    worker.join(60.0)
    assert started, "the slot's constructor still runs the hanging strategy after 10 s"


@pytest.mark.usefixtures("ray_session")
def test_a_frozen_actor_is_replaced_and_the_step_retried(tmp_path, shared_data, baselines):
    import os
    import signal

    import ray

    from actors.adapters.session_store import SessionStore
    from actors.live.tree import SessionNames
    from tests.actors.live.sessions import SHORT, read, run, session_config

    loaded = session_config(tmp_path, shared_data, **SHORT)
    names = SessionNames.build(loaded.config.data.symbols, ["meanrev"])
    namespace = ray.get_runtime_context().namespace
    frozen: list[int] = []

    def freeze(seq, _result):
        if seq >= 3 and not frozen:
            pid = ray.get(ray.get_actor(names.slot, namespace=namespace).pid.remote())
            os.kill(pid, signal.SIGSTOP)  # alive, silent, never returns
            frozen.append(pid)

    result = run(loaded, "frozen", on_step=freeze)
    baseline = baselines.get(**SHORT)
    assert frozen and result.stop_reason == "end of data"
    for name in ("orders.csv", "fills.csv", "equity.csv", "diary.jsonl"):
        assert read(result.folder, name) == read(baseline.folder, name), name
    store = SessionStore(result.folder / "session.sqlite")
    try:
        assert any(r.actor.endswith("/slot") for r in store.restarts())
    finally:
        store.close()
