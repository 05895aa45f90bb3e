"""scripts/evolve.py and run_evolution on the real data: workers, kill and resume, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from actors.adapters.sqlite_registry import TrialRegistry
from actors.research.evolve_job import EvolveJob, run_evolution
from configs.loader import load_config, with_overrides
from scripts.evolve import main

REPO = Path(__file__).resolve().parents[3]
SMALL = {"EVOTRADER_EVOLUTION__INITIAL_RANDOM": "16", "EVOTRADER_EVOLUTION__POPULATION": "8",
         "EVOTRADER_EVOLUTION__OBJECTIVE__FOLDS": "3"}
ARGS = ["--symbols", "BTC/USDT,ETH/USDT", "--timeframe", "1h", "--seed", "11",
        "--holdout-from", "2019-06-01", "--no-progress"]


def small_config(shared_data: Path):
    loaded = load_config(env={})
    return with_overrides(loaded, {
        "data": {"dir": str(shared_data), "symbols": ["BTC/USDT", "ETH/USDT"],
                 "timeframe": "1h"},
        "evolution": {"initial_random": 16, "population": 8, "objective": {"folds": 3}},
    }).config


@pytest.mark.usefixtures("ray_session")
def test_one_and_two_workers_give_the_same_archive(shared_data, tmp_path):
    config = small_config(shared_data)
    states = []
    for workers in (1, 2):
        job = EvolveJob(config=config, symbols=("BTC/USDT", "ETH/USDT"), layer="tactical",
                        generations=3, workers=workers, seed=11, run_id=f"w{workers}",
                        holdout_from_ms=1_559_347_200_000, batch_size=3)
        with TrialRegistry(tmp_path / f"w{workers}.sqlite") as registry:
            outcome = run_evolution(job, registry)
            states.append(outcome.engine.state().to_dict())
            trials = [(t.hash, repr(t.objective), t.ok) for t in registry.trials("tactical")]
            states[-1]["registry"] = trials
            # every trial's policy is its expression as the run scored it
            first = registry.trials("tactical")[0]
            policy = registry.policy(first.hash, "tactical")
            assert policy.strategy.expression == first.text
            assert policy.trading == config.backtest and policy.timeframe == "1h"
            assert dict(policy.strategy.mapping) == \
                config.evolution.objective.mapping.model_dump(mode="json")
            assert policy.window[1] < 1_559_347_200_000  # the search never saw the holdout
            states[-1]["policy"] = policy.hash
    assert states[0] == states[1]
    assert states[0]["generation"] == 3 and len(states[0]["registry"]) > 16


def run_cli(args: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(REPO / "scripts" / "evolve.py"), *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            **kwargs)


def checkpoint_generation(path: Path, run_id: str) -> int:
    if not path.exists():
        return -1
    try:
        with TrialRegistry(path) as registry:
            latest = registry.latest_checkpoint(run_id)
    except Exception:  # noqa: BLE001 - the writer may hold the file while we poll
        return -1
    return -1 if latest is None else latest.generation


def test_a_killed_run_resumes_to_the_uninterrupted_archive(shared_data, tmp_path, ray_session):
    # the runs join the tests' cluster (a killed driver's tasks die with it)
    env = {**os.environ, **SMALL, "EVOTRADER_DATA__DIR": str(shared_data),
           "EVOTRADER_RAY__ADDRESS": ray_session.address}
    runs = {}
    for name in ("whole", "killed"):
        store = tmp_path / f"{name}.sqlite"
        out = tmp_path / name
        process = run_cli([*ARGS, "--generations", "5", "--workers", "2", "--out", str(out)],
                          {**env, "EVOTRADER_STORE__PATH": str(store)})
        if name == "killed":
            deadline = time.monotonic() + 240
            (folder,) = _wait_for_folder(out, deadline)
            while checkpoint_generation(store, folder.name) < 2:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "no checkpoint in time"
                time.sleep(0.5)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            assert not (folder / "session.md").exists()  # it really died mid-run
            resumed = run_cli(["--resume", str(folder), "--generations", "5", "--workers", "1",
                               "--no-progress"], {**env, "EVOTRADER_STORE__PATH": str(store)})
            output = resumed.communicate(timeout=600)[0]
            assert resumed.returncode == 0, output
        else:
            output = process.communicate(timeout=600)[0]
            assert process.returncode == 0, output
        (folder,) = [p for p in out.iterdir() if p.is_dir()]
        with TrialRegistry(store) as registry:
            runs[name] = json.loads(registry.latest_checkpoint(folder.name).payload)
            runs[name + "_trials"] = sorted(t.hash for t in registry.trials("tactical"))
        runs[name + "_folder"] = folder
    assert runs["whole"] == runs["killed"]
    assert runs["whole_trials"] == runs["killed_trials"]
    report = json.loads((runs["killed_folder"] / "report.json").read_text())
    assert report["generations"] == 5 and report["resumed_from_generation"] >= 2
    whole = pd.read_csv(runs["whole_folder"] / "elites.csv")
    killed = pd.read_csv(runs["killed_folder"] / "elites.csv")
    pd.testing.assert_frame_equal(whole, killed)


def _wait_for_folder(out: Path, deadline: float) -> list[Path]:
    while time.monotonic() < deadline:
        folders = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
        if folders:
            return folders
        time.sleep(0.2)
    raise AssertionError("the run folder never appeared")


def test_the_run_folder_reports_gates_and_holdout(shared_data, tmp_path, monkeypatch):
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EVOTRADER_DATA__DIR", str(shared_data))
    monkeypatch.setenv("EVOTRADER_STORE__PATH", str(tmp_path / "store.sqlite"))
    out = tmp_path / "runs"
    assert main([*ARGS, "--generations", "2", "--workers", "2", "--out", str(out)]) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert {p.name for p in folder.iterdir()} >= {"archive.png", "elites.csv", "holdout.csv",
                                                   "report.json", "session.md", "run.json"}
    report = json.loads((folder / "report.json").read_text())
    assert report["trials_in_layer"] == report["trials_this_run"] > 16
    assert report["holdout_span"].startswith("2019-06-01")
    assert report["search_span"].endswith("2019-05-31T23:00:00.000 UTC")
    holdout = pd.read_csv(folder / "holdout.csv")
    assert holdout.expression.iloc[-1] == "buy and hold (equal weight)"
    assert len(holdout) >= 2
    elites = pd.read_csv(folder / "elites.csv")
    assert {"expression", "objective", "p_value", "q_value", "dsr", "survives"} <= \
        set(elites.columns)
    assert "pass the gates" in (folder / "session.md").read_text()


def test_survivors_are_validated_in_the_registry(tmp_path):
    from core.dsl import parse, structural_hash, to_text
    from core.evolution import Candidate, Evaluation
    from scripts.evolve import mark_validated

    nodes = [parse("(ts_zscore close 20)"), parse("(delta close 5)")]
    rows = []
    with TrialRegistry(tmp_path / "store.sqlite") as registry:
        for i, node in enumerate(nodes):
            candidate = Candidate(i, node, to_text(node), structural_hash(node), (), 0, "random")
            registry.record(candidate, Evaluation(i, True, 1.0, (0.0, 0.0, 0.0)),
                            layer="tactical", run_id="r1")
            rows.append({"hash": candidate.hash, "survives": i == 0, "q_value": 0.01,
                         "dsr": 0.97})
        assert mark_validated(registry, rows, "tactical", "r1") == 1
        assert registry.status(rows[0]["hash"], "tactical") == "validated"
        assert registry.status(rows[1]["hash"], "tactical") == "born"
        born, validated = registry.history(rows[0]["hash"], "tactical")
        assert (born.to_status, validated.to_status) == ("born", "validated")
        assert "run r1" in validated.reason and "DSR 0.970" in validated.reason
        assert mark_validated(registry, rows, "tactical", "r1") == 0  # already validated


@pytest.mark.parametrize(("args", "expected"), [
    (["--resume", "no-such-run"], "no run.json"),
    (["--timeframe", "1h"], "--symbols is required"),
    (["--symbols", "BTC/USDT", "--layer", "weekly"], "unknown layer"),
    (["--symbols", "BTC/USDT", "--workers", "0"], "--workers"),
    (["--symbols", "BTC/USDT", "--fdr", "1.0"], "--fdr must lie in (0, 1)"),
])
def test_usage_errors_exit_2(args, expected, capsys, tmp_path):
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err
