"""scripts/validate.py on the real shared data: single alpha, family, and malformed input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.validate import main

REPO = Path(__file__).resolve().parents[2]


def report_of(out: Path) -> dict:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return json.loads((folder / "report.json").read_text())


def test_issue_command_prints_the_report_and_writes_report_json(shared_data, tmp_path):
    out = tmp_path / "val"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "validate.py"), "--expr",
         "(ts_zscore (delta close 24) 168)", "--data", str(shared_data), "--symbol", "BTC/USDT",
         "--timeframe", "1h", "--start", "2022-01-01", "--end", "2024-01-01", "--folds", "6",
         "--embargo", "24", "--trials", "50", "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    for text in ("IS Sharpe", "OOS Sharpe", "PSR", "DSR", "block-bootstrap CI",
                 "bias check: clean", "report:"):
        assert text in done.stdout
    report = report_of(out)
    (alpha,) = report["alphas"]
    assert alpha["expression"] == "(ts_zscore (delta close 24) 168)"
    assert len(alpha["folds"]) == 6 and report["n_trials"] == 50
    assert sum(f["oos_bars"] for f in alpha["folds"]) == alpha["bars"]
    assert 0.0 <= alpha["dsr"] <= alpha["psr"] <= 1.0  # deflating for 50 trials never helps
    assert alpha["sharpe_ci"][0] <= alpha["sharpe"] <= alpha["sharpe_ci"][1]
    assert alpha["bias"]["lookahead"] is False
    assert report["window"]["warmup_bars"] > 0  # history before the window warms up
    assert report["provenance"]["config_id"] and report["data"][0]["files"][0]["sha256"]


def test_family_adds_pbo_and_fdr(shared_data, tmp_path, capsys):
    family = tmp_path / "family.txt"
    family.write_text("# momentum and reversal\n(ts_zscore (delta close 24) 168)\n"
                      "(neg (ts_zscore (delta close 24) 168))\n\n"
                      "(zmom close 72 336)\n(ma_cross close 50 200)\n(ema returns 24)\n")
    out = tmp_path / "val"
    assert main(["--family", str(family), "--data", str(shared_data), "--symbol", "ETH/USDT",
                 "--timeframe", "1h", "--window", "P730D", "--direction", "long_short",
                 "--folds", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "family of 5: PBO" in text and "BH rejections" in text
    report = report_of(out)
    assert report["family_size"] == 5 and 0.0 <= report["pbo"]["pbo"] <= 1.0
    assert report["pbo"]["combinations"] > 0 and report["direction"] == "long_short"
    labels = [a["label"] for a in report["alphas"]]
    assert labels == [f"{family}:{line}" for line in (2, 3, 5, 6, 7)]
    assert all("fdr_q" in a for a in report["alphas"])
    ema = report["alphas"][-1]
    assert ema["bias"]["recursive"] and ema["bias"]["recursive_converges"]


@pytest.mark.parametrize(("expr", "expected"), [
    ("(ts_zscore (delta close 24) 168", "expected ')'"),
    ("(ts_mea close 5)", "did you mean 'ts_mean'"),
    ("(ts_mean close 2.5)", "integer window"),
    ("(delay close)", "delay"),
])
def test_malformed_expressions_exit_2_with_the_parser_message(shared_data, tmp_path, capsys,
                                                              expr, expected):
    out = tmp_path / "val"
    assert main(["--expr", expr, "--data", str(shared_data), "--symbol", "BTC/USDT",
                 "--out", str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_family_line_is_named(shared_data, tmp_path, capsys):
    family = tmp_path / "family.txt"
    family.write_text("(delta close 5)\n(ts_std close 1)\n")
    assert main(["--family", str(family), "--data", str(shared_data), "--symbol", "BTC/USDT",
                 "--out", str(tmp_path / "val")]) == 2
    assert f"{family}:2" in capsys.readouterr().err
