"""scripts/backtest.py end to end on the real shared data, and its usage errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from scripts.backtest import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "backtest.py"), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def only_folder(root: Path) -> Path:
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def test_issue_command_writes_a_complete_run_folder(shared_data, tmp_path):
    done = run_cli(["--data", str(shared_data), "--symbol", "BTC/USDT", "--timeframe", "1h",
                    "--strategy", "momentum", "--params", "fast=20,slow=50",
                    "--start", "2022-01-01", "--end", "2024-01-01", "--tz", "UTC",
                    "--fee-bps", "10", "--slip-bps", "5", "--out", str(tmp_path / "runs")],
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = only_folder(tmp_path / "runs")
    assert folder.name.endswith("_BTC-USDT_momentum")
    assert {p.name for p in folder.iterdir()} == {
        "metrics.json", "trades.csv", "equity.csv", "equity.png", "session.md"}
    assert str(folder) in done.stdout and "total return" in done.stdout

    document = json.loads((folder / "metrics.json").read_text())
    prov = document["provenance"]
    data_file = shared_data / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet"
    files = prov["data"][0]["files"]
    assert files[0]["sha256"] == hashlib.sha256(data_file.read_bytes()).hexdigest()
    assert len(prov["config_id"]) == 16
    assert len(prov["git"]["commit"]) == 40
    assert prov["seed"] == 7 and prov["synthetic"] is False
    assert prov["window"]["first_bar_utc"].startswith("2022-01-01T00:00")
    assert prov["window"]["last_bar_utc"].startswith("2023-12-31T23:00")
    assert prov["backtest"]["costs"]["taker_fee_bps"] == 10.0
    assert prov["backtest"]["costs"]["half_spread_bps"] == 5.0
    assert prov["gaps"]["BTC/USDT"]["missing_bars"] == 1  # 2023-03-24 13:00 is missing
    metrics = document["metrics"]
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "calmar",
                "max_drawdown", "max_drawdown_duration_days", "turnover", "exposure",
                "hit_rate", "profit_factor", "average_trade", "cvar_95"):
        assert key in metrics

    equity = pd.read_csv(folder / "equity.csv")
    trades = pd.read_csv(folder / "trades.csv")
    assert len(equity) == prov["window"]["bars"] == 2 * 365 * 24 - 1
    assert trades.pnl.sum() == pytest.approx(equity.equity.iloc[-1] - 10_000, abs=1e-6)
    assert {"entry_time_utc", "exit_time_utc", "qty", "fees", "slippage", "mae", "mfe"} <= \
        set(trades.columns)
    assert (trades.entry_bar > 0).all()  # never filled on the first bar's own signal
    assert (folder / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    session = (folder / "session.md").read_text()
    assert "Sharpe" in session and prov["config_id"] in session


@pytest.mark.parametrize(("window_args", "expected"), [
    ([], "no window"),
    (["--start", "2024-01-01", "--end", "2023-01-01"], "reversed or empty"),
    (["--start", "2030-01-01", "--end", "2031-01-01"], "holds 0 bar"),
    (["--start", "2022-01-01"], "--end is missing"),
    (["--start", "2022-01-01", "--end", "2023-01-01", "--window", "P9D"], "not both"),
    (["--window", "P3M"], "not an ISO-8601 duration"),
    (["--start", "2022-01-01", "--end", "2023-01-01", "--tz", "Mars/Olympus"],
     "unknown timezone"),
])
def test_bad_windows_exit_2_without_a_run_folder(shared_data, tmp_path, capsys, window_args,
                                                 expected):
    out = tmp_path / "runs"
    code = main(["--data", str(shared_data), "--symbol", "BTC/USDT", "--timeframe", "1h",
                 "--strategy", "momentum", "--out", str(out), *window_args])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_unknown_symbol_and_bad_params_exit_2_with_hints(shared_data, tmp_path, capsys):
    out = tmp_path / "runs"
    common = ["--data", str(shared_data), "--timeframe", "1h", "--window", "P30D",
              "--out", str(out)]
    assert main([*common, "--symbol", "FOO/USDT", "--strategy", "momentum"]) == 2
    err = capsys.readouterr().err
    assert "no data for FOO/USDT" in err and "BTC/USDT" in err  # lists what exists
    assert main([*common, "--symbol", "BTC/USDT", "--strategy", "momentum",
                 "--params", "fast=50,slow=20"]) == 2
    assert "slow must be greater than fast" in capsys.readouterr().err
    assert main([*common, "--symbol", "BTC/USDT", "--strategy", "momentum",
                 "--fee-bps", "-3"]) == 2
    assert "command line: backtest.costs" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


def test_trailing_window_pairs_and_determinism(shared_data, tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["--data", str(shared_data), "--symbol", "BTC/USDT,ETH/USDT", "--timeframe", "1h",
            "--strategy", "pairs", "--params", "lookback=168,entry_z=2,exit_z=0.5",
            "--window", "P90D", "--out", str(out)]
    assert main(args) == 0
    assert "direction set to long_short" in capsys.readouterr().out
    assert main(args) == 0
    first, second = sorted(p for p in out.iterdir())
    doc = [json.loads((f / "metrics.json").read_text()) for f in (first, second)]
    assert doc[0]["metrics"] == doc[1]["metrics"]
    assert (first / "trades.csv").read_text() == (second / "trades.csv").read_text()
    assert (first / "equity.csv").read_text() == (second / "equity.csv").read_text()
    assert doc[0]["provenance"]["window"]["bars"] == 90 * 24
    assert set(doc[0]["columns"]) == {"BTC/USDT", "ETH/USDT"}


def test_a_coarser_timeframe_is_resampled_from_stored_bars(shared_data, tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["--data", str(shared_data), "--symbol", "ETH/USDT", "--timeframe", "4h",
                 "--strategy", "momentum", "--params", "fast=5,slow=20",
                 "--start", "2024-01-01", "--end", "2024-07-01", "--out", str(out)]) == 0
    folder = only_folder(out)
    prov = json.loads((folder / "metrics.json").read_text())["provenance"]
    assert prov["data"][0]["timeframe"] == "4h"
    assert prov["data"][0]["source"].startswith("resampled from 1h")
    assert "resampled from 1h" in (folder / "session.md").read_text()
    equity = pd.read_csv(folder / "equity.csv")
    assert (equity.timestamp.diff().dropna() % (4 * 3_600_000) == 0).all()
    assert len(equity) == 182 * 6  # 2024-01-01 .. 2024-07-01, no incomplete 4h bins


def test_perpetual_backtests_pay_and_receive_funding(shared_data, tmp_path):
    out = tmp_path / "runs"
    assert main(["--data", str(shared_data), "--venue", "BINANCEUSDM", "--symbol", "BTC/USDT",
                 "--timeframe", "1h", "--strategy", "momentum",
                 "--params", "fast=24,slow=96,allow_short=true",
                 "--start", "2021-01-01", "--end", "2021-04-01", "--out", str(out)]) == 0
    document = json.loads((only_folder(out) / "metrics.json").read_text())
    files = [f["path"] for f in document["provenance"]["data"][0]["files"]]
    assert any(path.endswith("BINANCEUSDM_BTC-USDT_funding_rate.parquet") for path in files)
    trades = pd.read_csv(only_folder(out) / "trades.csv")
    assert document["metrics"]["funding"] == pytest.approx(trades.funding.sum())
    assert (trades.funding[trades.direction == 1] > 0).mean() > 0.5  # 2021 funding was positive
    assert (trades.funding[trades.direction == -1] < 0).mean() > 0.5


def test_corrupt_data_exits_2_naming_file_row_and_timestamp(tmp_path, capsys):
    rows = ["timestamp,open,high,low,close,volume"]
    for i in range(200):
        price = 100 + i * 0.1
        rows.append(f"{1_700_000_000_000 + i * 3_600_000},{price},{price + 1},{price - 1},"
                    f"{price},10")
    rows[121] = rows[121].replace(",10", ",nan")  # data row 120
    csv = tmp_path / "bars.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "runs"
    assert main(["--data", str(csv), "--symbol", "BTC/USDT", "--timeframe", "1h",
                 "--strategy", "momentum", "--params", "fast=5,slow=20", "--window", "P5D",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bars.csv" in err and "row 120" in err
    assert str(1_700_000_000_000 + 120 * 3_600_000) in err
    assert not out.exists() or not any(out.iterdir())


def test_every_run_records_the_bias_verdict_of_its_strategy(shared_data, tmp_path):
    out = tmp_path / "runs"
    common = ["--data", str(shared_data), "--symbol", "BTC/USDT", "--timeframe", "1h",
              "--strategy", "momentum", "--window", "P60D", "--out", str(out)]
    assert main([*common, "--params", "fast=10,slow=30"]) == 0
    assert main([*common, "--params", "fast=10,slow=30,ma=ema"]) == 0
    sma, ema = sorted(out.iterdir())
    sma_bias = json.loads((sma / "metrics.json").read_text())["provenance"]["bias_check"]
    ema_bias = json.loads((ema / "metrics.json").read_text())["provenance"]["bias_check"]
    assert sma_bias["verdict"] == "clean" and not sma_bias["lookahead"]
    assert ema_bias["verdict"] == "recursive-converging"  # an EMA depends on where data starts
    assert "look-ahead/recursion check" in (sma / "session.md").read_text()
