"""The CLI entry ``python -m actors.main``: --check-config output, exit codes, redaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actors.main import main, render_check
from configs import load_config

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-cli-test-Secret-987654321"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("EVOTRADER_") and k != "ANTHROPIC_API_KEY"
    }
    env.update(extra)
    return env


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actors.main", *args],
        cwd=REPO,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _json_part(stdout: str) -> dict:
    return json.loads(stdout[: stdout.index("\nconfig_id: ")])


def test_check_config_prints_the_validated_default():
    result = _run("--check-config")
    assert result.returncode == 0, result.stderr
    document = _json_part(result.stdout)
    assert document["app"]["mode"] == "sim"
    assert document["risk"]["profile"] == "conservative"
    assert document["secrets"] == {
        "exchange_api_key": None,
        "exchange_api_secret": None,
        "exchange_password": None,
        "anthropic_api_key": None,
    }
    expected = load_config(env={})
    assert f"config_id: {expected.config_id}" in result.stdout
    assert str(REPO / "configs" / "risk.toml") in result.stdout
    assert str(REPO / "configs" / "default.toml") in result.stdout


@pytest.mark.parametrize("name", ["paper.toml", "live.toml"])
def test_check_config_of_each_shipped_profile(name):
    result = _run("--check-config", "--config", f"configs/{name}")
    assert result.returncode == 0, result.stderr
    assert _json_part(result.stdout)["app"]["mode"] == name.removesuffix(".toml")


def test_secrets_from_env_are_redacted_in_the_output():
    result = _run(
        "--check-config",
        EVOTRADER_EXCHANGE_API_KEY=SECRET,
        ANTHROPIC_API_KEY=SECRET + "-llm",
        EVOTRADER_DATA__DIR=f"/tmp/{SECRET}",
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    document = _json_part(result.stdout)
    assert document["secrets"]["exchange_api_key"] == "**********"
    assert document["secrets"]["anthropic_api_key"] == "**********"
    assert "EVOTRADER_DATA__DIR" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[backtest.costs]\ntaker_fe_bps = 1\n", "backtest.costs.taker_fe_bps: unknown key"),
        ("[app]\nseed = 'seven'\n", "app.seed: expected an integer, got 'seven'"),
        (
            "[backtest.costs]\ntaker_fee_bps = 5000\n",
            "backtest.costs.taker_fee_bps: must be <= 1000 (got 5000)",
        ),
    ],
)
def test_a_bad_file_exits_2_naming_file_key_and_problem(tmp_path, text, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    result = _run("--check-config", "--config", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{bad}: {expected}" in result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.splitlines())


def test_malformed_toml_exits_2_naming_the_line(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("[app]\nseed = = 3\n", encoding="utf-8")
    result = _run("--check-config", "--config", str(bad))
    assert result.returncode == 2
    assert f"error: {bad}: invalid TOML at line 2" in result.stderr


def test_a_secret_in_a_file_exits_2_without_echoing_it(tmp_path):
    bad = tmp_path / "secret.toml"
    bad.write_text(f"[exchange]\napi_key = '{SECRET}'\n", encoding="utf-8")
    result = _run("--check-config", "--config", str(bad))
    assert result.returncode == 2
    assert "EVOTRADER_EXCHANGE_API_KEY" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_env_errors_exit_2_naming_the_variable():
    result = _run("--check-config", EVOTRADER_BACKTST__X="1", EVOTRADER_APP__SEED="ten")
    assert result.returncode == 2
    assert "EVOTRADER_BACKTST__X: unknown variable" in result.stderr
    assert "EVOTRADER_APP__SEED: app.seed: expected an integer, got 'ten'" in result.stderr


def test_missing_file_and_usage_errors_exit_2(tmp_path):
    missing = _run("--check-config", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2
    assert "config file not found" in missing.stderr
    usage = _run("--no-such-option")
    assert usage.returncode == 2
    assert "usage:" in usage.stderr


def test_in_process_main_returns_codes(tmp_path, capsys, monkeypatch):
    for name in [n for n in os.environ if n.upper().startswith("EVOTRADER_")]:
        monkeypatch.delenv(name)
    assert main(["--check-config"]) == 0
    assert "config_id: " in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[app]\nseed = -1\n", encoding="utf-8")
    assert main(["--check-config", "--config", str(bad)]) == 2
    assert f"{bad}: app.seed: must be >= 0 (got -1)" in capsys.readouterr().err
    assert main(["status", "--adopt"]) == 2  # --adopt belongs to reconcile only
    assert "--adopt goes with the reconcile command" in capsys.readouterr().err


def test_render_check_scrubs_secret_values_anywhere():
    loaded = load_config(env={"EVOTRADER_EXCHANGE_API_KEY": SECRET, "EVOTRADER_APP__NAME": SECRET})
    text = render_check(loaded)
    assert SECRET not in text
    assert "**********" in text


def _run_main(tmp_path, *args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVOTRADER_")}
    env.update({"EVOTRADER_SESSION__SESSIONS_DIR": str(tmp_path / "sessions"),
                "EVOTRADER_RAY__ADDRESS": "local", "EVOTRADER_RAY__NUM_CPUS": "2",
                "EVOTRADER_RAY__OBJECT_STORE_MEMORY_MB": "200",
                "EVOTRADER_GUARDIAN__KILL_SWITCH_FILE": str(tmp_path / "KILL"),
                **env_overrides})
    return subprocess.run([sys.executable, "-m", "actors.main", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_main_job_runs_a_sim_session_on_the_real_data(shared_data, tmp_path):
    done = _run_main(tmp_path, "--duration", "20d", EVOTRADER_DATA__DIR=str(shared_data))
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "sessions").iterdir()
    summary = (folder / "session.md").read_text()
    assert "## Result" in summary and "## Candidates" in summary
    assert "BINANCE_BTC-USDT_1h.parquet" in summary
    assert "last bar: 2025-12-31 23:00:00 UTC" in summary
    assert "# Session " in done.stdout and "## Latency" in done.stdout
    for name in ("orders.csv", "fills.csv", "positions.csv", "equity.csv",
                 "risk_events.jsonl", "diary.jsonl"):
        assert (folder / name).is_file()
    assert len((folder / "equity.csv").read_text().splitlines()) == 20 * 24 + 1


def test_main_job_falls_back_to_a_labelled_synthetic_market(tmp_path, ray_session):
    # on the tests' running cluster (the test above starts the embedded one)
    done = _run_main(tmp_path, "--duration", "10d",
                     EVOTRADER_DATA__DIR=str(tmp_path / "no-data-here"),
                     EVOTRADER_RAY__ADDRESS=ray_session.address,
                     EVOTRADER_RAY__NAMESPACE="main-cli-synthetic")
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "sessions").iterdir()
    assert "BTC/USDT: SYNTHETIC synthetic(seed=7" in (folder / "session.md").read_text()


def test_main_job_without_fallback_reports_missing_data(tmp_path):
    done = _run_main(tmp_path, EVOTRADER_DATA__DIR=str(tmp_path / "none"),
                     EVOTRADER_DATA__SYNTHETIC_FALLBACK="false")
    assert done.returncode == 2
    assert "error: no stored bars for BINANCE BTC/USDT 1h" in done.stderr
    assert not list((tmp_path / "sessions").glob("*/session.md"))


def test_session_options_are_validated(tmp_path):
    bad = _run_main(tmp_path, "--duration", "ten days")
    assert bad.returncode == 2 and "bad duration" in bad.stderr
    both = _run_main(tmp_path, "--duration", "5d", "--until", "2025-01-01")
    assert both.returncode == 2
    nowhere = _run_main(tmp_path, "--mode", "paper", "--exchange-url", "http://127.0.0.1:9",
                        EVOTRADER_DATA__SYNTHETIC_FALLBACK="false")
    assert nowhere.returncode == 2
    assert "cannot read the venue's clock at http://127.0.0.1:9" in nowhere.stderr


def test_live_and_testnet_refuse_before_connecting_anywhere(tmp_path):
    key, secret = "TESTKEY" + "k" * 20, "TESTSECRET" + "s" * 30
    unreachable = {"EVOTRADER_RAY__ADDRESS": "127.0.0.1:9"}  # would fail differently
    live_config = str(REPO / "configs" / "live.toml")
    no_flags = _run_main(tmp_path, "--config", live_config, **unreachable,
                         EVOTRADER_EXCHANGE_API_KEY=key, EVOTRADER_EXCHANGE_API_SECRET=secret)
    assert no_flags.returncode == 2
    assert "--live flag" in no_flags.stderr and "--i-acknowledge-risk" in no_flags.stderr
    cli_only = _run_main(tmp_path, "--mode", "live", "--live", "--i-acknowledge-risk",
                         **unreachable, EVOTRADER_DATA__SYNTHETIC_FALLBACK="false")
    assert cli_only.returncode == 2 and 'mode = "live" in the configuration' in cli_only.stderr
    keyless = _run_main(tmp_path, "--mode", "testnet", **unreachable,
                        EVOTRADER_DATA__SYNTHETIC_FALLBACK="false")
    assert keyless.returncode == 2
    assert "EVOTRADER_EXCHANGE_API_KEY and EVOTRADER_EXCHANGE_API_SECRET" in keyless.stderr
    for done in (no_flags, cli_only, keyless):
        assert "Traceback" not in done.stderr
        assert key not in done.stderr + done.stdout and secret not in done.stderr + done.stdout
    assert not (tmp_path / "sessions").exists()
