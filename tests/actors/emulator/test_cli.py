"""``python -m actors.emulator``: prints its URL, serves, exits 0 on a signal; bad args: 2."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from actors.emulator.__main__ import main
from actors.emulator.signing import sign

REPO = Path(__file__).resolve().parents[3]
START_ISO = "2024-03-01T00:00:00Z"
START_MS = 1_709_251_200_000


def launch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "actors.emulator", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "actors.emulator", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_a_signal(tmp_path: Path, shared_data: Path,
                               stop_signal: signal.Signals) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"kind": "http_5xx", "endpoint": "/api/v3/ping",
                                   "nth": 1, "status": 503}]))
    process = launch("--data", str(shared_data), "--symbols", "BTC/USDT,ETH/USDT",
                     "--timeframe", "1h", "--port", "0", "--speed", "0", "--start", START_ISO,
                     "--faults", str(faults), "--balances", "USDT=500,BTC=0.25",
                     "--api-key", "cli-key", "--api-secret", "cli-secret")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = match.group(1)
        assert requests.get(f"{url}/api/v3/time", timeout=5).json() == {"serverTime": START_MS}
        assert requests.get(f"{url}/api/v3/ping", timeout=5).status_code == 503
        query = f"timestamp={START_MS}"
        account = requests.get(f"{url}/api/v3/account?{query}&signature="
                               f"{sign(query, 'cli-secret')}", timeout=5,
                               headers={"X-MBX-APIKEY": "cli-key"}).json()
        balances = {b["asset"]: b["free"] for b in account["balances"]}
        assert balances == {"BTC": "0.25000000", "ETH": "0.00000000", "USDT": "500.00000000"}
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "emulator stopped" in out and "Traceback" not in err
    assert "cli-secret" not in out + err + line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--symbols", "BTC/USDT"), "the following arguments are required: --data"),
        (("--data", "{data}", "--symbols", "DOGE/BTC"), "available BINANCE 1m symbols"),
        (("--data", "/nonexistent/data", "--symbols", "BTC/USDT"), "does not exist"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--timeframe", "7m"),
         "unknown timeframe '7m'"),
        (("--data", "{data}", "--symbols", "BTC-USDT"), "malformed symbol"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--speed", "-1"), "speed"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--start", "yesterday"), "--start"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--faults", "/nonexistent.json"),
         "cannot read fault file"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--balances", "USDT:5"),
         "bad --balances item"),
        (("--data", "{data}", "--symbols", "BTC/USDT", "--port", "70000"), "--port"),
    ],
)
def test_bad_arguments_exit_2(shared_data: Path, args: tuple[str, ...], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{data}", str(shared_data)) for a in args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert message in err and out == ""


def test_bad_arguments_in_a_real_process(shared_data: Path) -> None:
    result = run("--data", str(shared_data), "--symbols", "BTC/USDT,XRP/EUR")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no candles for BINANCE XRP/EUR 1m")
    assert "Traceback" not in result.stderr and result.stdout == ""
