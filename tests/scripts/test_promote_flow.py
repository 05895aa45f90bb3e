"""The whole loop, as an operator runs it: discovery -> candidate -> paper -> gates -> promotion
-> injected decay -> sentry -> automatic rollback, then a rollback into a running session.

A small discovery run on the real data fills the registry; its best alpha (an evolved
expression) becomes a candidate (``promote.py candidate add``); a SIM session paper-trades it
beside the configured strategy; ``check`` measures every gate from the registry, the data and
that session; ``promote`` is refused by the gates (exit 3, nothing written), then passes under
gates an operator turned off and writes the ledger; the next session trades the promoted alpha
exactly as the candidate traded it and records the runtime form the ledger rebuilds byte for
byte. Then the market turns against the alpha (an adversarial copy of the stored bars from
``DECAY_FROM``, :mod:`tests.scripts.adversarial`): the drift sentry of the next session fires,
the session rolls back to the configured strategy through the hot swap and appends the
ledger's automatic rollback. ``rollback --to`` the alpha while a session runs swaps that session
to it at a step boundary. The ledger verifies, every policy that ran is rebuilt byte for byte
from it, and ``kpis`` counts the automatic rollback.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
import ray

from actors.adapters.policy_ledger import PolicyLedger
from actors.adapters.session_store import SessionStore
from actors.adapters.sqlite_registry import TrialRegistry
from actors.governance.live import CONTROL
from actors.governance.promotion import rebuild_strategy
from actors.live.names import PREFIX, ROOT
from actors.live.policies import POLICIES_FILE
from actors.live.run import attach_session, run_session
from actors.research.evolve_job import EvolveJob, run_evolution
from configs.governance import GATE_NAMES
from configs.loader import load_config, with_overrides
from core.governance.ledger import Action, active_policy
from scripts.promote import main
from supervisors.naming import supervisor_actor_name
from tests.actors.live.sessions import run, session_config
from tests.scripts.adversarial import adversarial_copy

HOLDOUT_FROM = 1_735_689_600_000  # 2025-01-01: the sessions' bars (May 2025) were never searched
DECAY_FROM = 1_746_835_200_000  # 2025-05-10: the injected decay starts a week into the session
RESEARCH_LUCK = ("oos_sharpe", "pbo", "dsr", "fdr_q", "regime_grid", "correlation_to_active")
"""Gates a two-generation search cannot be expected to pass (their values are still measured
and recorded)."""


def policies(folder: Path) -> dict:
    return json.loads((folder / POLICIES_FILE).read_text())


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_discovery_to_promotion_to_rollback(tmp_path: Path, shared_data: Path, capsys) -> None:
    loaded = session_config(tmp_path, shared_data, duration="30d", batch_bars=240,
                            candidates=[])
    store = Path(loaded.config.store.path)
    config = with_overrides(loaded, {"evolution": {"initial_random": 16, "population": 8,
                                                   "objective": {"folds": 3}}}).config
    job = EvolveJob(config=config, symbols=("BTC/USDT", "ETH/USDT"), layer="tactical",
                    generations=2, workers=2, seed=5, run_id="discovery",
                    holdout_from_ms=HOLDOUT_FROM, batch_size=4)
    with TrialRegistry(store) as registry:
        run_evolution(job, registry)
        best = max((t for t in registry.trials("tactical") if t.ok),
                   key=lambda t: t.objective)
        policy = registry.policy(best.hash, "tactical").hash
    cli = ["--config", str(tmp_path / "session.toml")]

    assert main(["candidate", "add", best.hash[:10], "--reason", "best of the run", *cli]) == 0
    assert f"candidate_add {policy}" in capsys.readouterr().out
    first = run(loaded, "paper-month")
    assert policies(first.folder)[f"p-{policy}"] == {
        "policy": policy, "ledger": True, "runtime": rebuild_strategy(store, policy)}
    with SessionStore(first.folder / "session.sqlite") as session:
        paper_ts, paper_equity = session.equity(f"candidate:p-{policy}")
        paper_fills = len(session.fills(f"candidate:p-{policy}"))

    assert main(["check", policy, *cli]) in (0, 3)
    table = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()
             if line.split() and line.split()[0] in GATE_NAMES}
    assert list(table) == list(GATE_NAMES)
    assert float(table["paper_days"][1]) == pytest.approx(30.0)
    assert float(table["paper_trades"][1]) == paper_fills > 0
    assert float(table["tracking_error"][1]) == 0.0  # SIM paper = the policy's SIM on them
    assert table["oos_sharpe"][1] == f"{best.metrics['oos_sharpe']:.4g}"
    assert all(table[name][1] != "n/a" for name in GATE_NAMES)  # every gate measured

    strict = tmp_path / "strict.toml"
    strict.write_text((tmp_path / "session.toml").read_text()
                      + "[governance.gates]\nmin_paper_days = 60\n")
    assert main(["promote", policy, "--reason", "too early", "--config", str(strict)]) == 3
    refused = capsys.readouterr().out
    assert "promotion REFUSED" in refused
    assert [line.split()[4] for line in refused.splitlines()
            if line.startswith("paper_days")] == ["FAIL"]
    with PolicyLedger(store) as ledger:
        assert [e.action for e in ledger.entries()] == [Action.CANDIDATE_ADD]

    lenient = tmp_path / "lenient.toml"
    lenient.write_text((tmp_path / "session.toml").read_text()
                       + f"[governance.gates]\noff = {json.dumps(list(RESEARCH_LUCK))}\n"
                       + "min_paper_trades = 1\n")
    assert main(["promote", policy, "--reason", "paper month passed", "--operator", "ana",
                 "--config", str(lenient)]) == 0
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries] == [Action.CANDIDATE_ADD, Action.BASELINE,
                                           Action.PROMOTE, Action.CANDIDATE_ADD]
    assert entries[3].decided_by == "rule:demoted"  # the replaced strategy, kept ready
    baseline = entries[1].policy_hash
    assert baseline == policies(first.folder)["live"]["policy"]
    assert active_policy(entries) == policy and entries[2].decided_by == "operator:ana"
    assert [g.name for g in entries[2].gates] == list(GATE_NAMES)
    assert all(g.passed for g in entries[2].gates)

    second = run(load_config(tmp_path / "session.toml", env={}), "promoted")
    record = policies(second.folder)
    assert record["live"] == {"policy": policy, "ledger": True,
                              "runtime": rebuild_strategy(store, policy)}
    assert f"- policy: {policy}" in (second.folder / "session.md").read_text()
    with SessionStore(second.folder / "session.sqlite") as session:
        live_ts, live_equity = session.equity("live")
    # the promoted alpha trades the same bars exactly as it paper-traded them
    assert np.array_equal(live_ts, paper_ts)
    np.testing.assert_allclose(live_equity, paper_equity, rtol=0, atol=1e-9)

    # an injected decay: the market turns against the alpha; the sentry fires, the session
    # rolls back to the configured strategy by itself and the ledger records it
    decayed_data = adversarial_copy(loaded.config, entries[2].spec, tmp_path / "decayed",
                                    DECAY_FROM, 1_748_736_000_000)
    decayed = tmp_path / "decayed.toml"
    decayed.write_text((tmp_path / "session.toml").read_text().replace(
        str(shared_data), str(decayed_data)))
    third = run(load_config(decayed, env={}), "decayed")
    alarm = json.loads(sorted((third.folder / "drift").glob("*.json"))[0].read_text())
    assert alarm["policy"] == policy and alarm["ts"] >= DECAY_FROM
    assert alarm["rollback"]["status"] == "applied" and alarm["rollback"]["policy"] == baseline
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries[-2:]] == [Action.ROLLBACK, Action.RETIRE]
    assert entries[-2].decided_by.startswith("rule:") and active_policy(entries) == baseline
    assert policies(third.folder)["live"]["policy"] == policy  # it started with the alpha

    # a rollback while a session runs: the running session swaps to the alpha at a boundary
    namespace = ray.get_runtime_context().namespace
    running = tmp_path / "running.toml"
    running.write_text((tmp_path / "session.toml").read_text().replace(
        "batch_bars = 240", "batch_bars = 240\nspeed = 400000.0")  # a bar every 9 ms
        + f'[ray]\nnamespace = "{namespace}"\n')
    run_session(load_config(running, env={}), session_id="rolled-back", quiet=True,
                detach=True)
    control = None
    deadline = time.monotonic() + 120
    while control is None:  # the detached tree starts its children on its own
        assert time.monotonic() < deadline, "the detached session never started"
        try:
            control = ray.get_actor(CONTROL, namespace=namespace)
        except ValueError:
            time.sleep(0.1)
    while ray.get(control.progress.remote(), timeout=30)["seq"] < 0:
        time.sleep(0.05)
    assert main(["rollback", "--to", policy, "--reason", "the decay was the market's",
                 "--config", str(running)]) == 0
    said = capsys.readouterr().out
    assert f"the running session trades {policy} from step" in said
    fourth = attach_session(load_config(running, env={}).config, quiet=True)
    assert fourth is not None and fourth.stop_reason == "end of data"
    with pytest.raises(ValueError):  # attach returns once the finished tree has shut down
        ray.get_actor(supervisor_actor_name(PREFIX, ROOT), namespace=namespace)
    summary = (fourth.folder / "session.md").read_text()
    assert "## Policy swaps" in summary and policy in summary.split("## Policy swaps")[1]
    assert main(["verify", *cli]) == 0
    with PolicyLedger(store) as ledger:
        entries = ledger.entries()
    assert [e.action for e in entries[-2:]] == [Action.ROLLBACK, Action.RETIRE]
    assert active_policy(entries) == policy
    # every policy that ran is rebuilt byte for byte from the ledger
    for folder in (first.folder, second.folder, third.folder, fourth.folder):
        for record in policies(folder).values():
            if record["ledger"] or record["policy"] == baseline:
                assert rebuild_strategy(store, record["policy"]) == record["runtime"]
    assert main(["rollback", "--to", baseline, "--reason", "again", *cli]) == 0
    assert "no session is running" in capsys.readouterr().out
    assert main(["rollback", "--to", "ffff", "--reason", "no such", *cli]) == 2
    capsys.readouterr()
    assert main(["kpis", *cli]) == 0
    figures = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1)
                   for line in capsys.readouterr().out.splitlines()[2:])
    assert figures["candidates added"] == "1" and figures["promotions"] == "1"
    assert figures["rollbacks (automatic)"] == "3 (1)"
