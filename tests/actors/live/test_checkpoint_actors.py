"""The executor's service (no Ray) restarts from its typed checkpoint as from a cold start."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actors.live.executor import ExecutorService
from tests.actors.live.checkpoint_states import BTC, CONFIG, LIMITS, walk_session


def test_executor_service_restarts_from_its_checkpoint_and_trades_on(tmp_path: Path,
                                                                    shared_data: Path) -> None:
    steps = walk_session(shared_data, n_bars=3_000, batch_bars=500)
    state_dir = str(tmp_path / "state")
    first = ExecutorService(state_dir, CONFIG, LIMITS, [BTC])
    for step in steps[:3]:
        report = first.execute(step.batch.seq, step.batch, step.signals,
                               step.outcome.approved_ids)
        assert report.outcome.fills == step.outcome.fills
    assert (tmp_path / "state" / "executor.ckpt").exists()
    # the restart: a new service on the same folder (the actor's __init__ path)
    second = ExecutorService(state_dir, CONFIG, LIMITS, [BTC])
    assert second.seq_done() == 2
    retried = second.execute(2, steps[2].batch, steps[2].signals, steps[2].outcome.approved_ids)
    assert retried.state_hash == report.state_hash and retried.outcome.fills == report.outcome.fills
    assert second.state_before(2) == first.state_before(2)
    for step in steps[3:]:
        out = second.execute(step.batch.seq, step.batch, step.signals,
                             step.outcome.approved_ids)
        assert out.outcome.fills == step.outcome.fills
        np.testing.assert_array_equal(out.outcome.equity, step.outcome.equity)
    assert out.state_hash == steps[-1].broker.state_hash()
