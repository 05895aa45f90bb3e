"""scripts/fetch_data.py end to end: a subprocess talking to the emulator in this process."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from actors.adapters.parquet_store import ParquetStore
from actors.emulator import EmulatorConfig, EmulatorServer, FaultRule
from core.data.candles import Candles

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fetch_data.py"
H = 3_600_000
SINCE = 1_677_628_800_000  # 2023-03-01
DATA_END = 1_682_899_200_000  # 2023-05-01
KLINES = "/api/v3/klines"
FAST_RETRY = ("--retry-delay", "0.01", "--max-retry-delay", "0.05")


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> dict[str, Candles]:
    store = ParquetStore(shared_data)
    return {s: store.read("BINANCE", s, "1h", start_ms=SINCE, end_ms=DATA_END)
            for s in ("BTC/USDT", "ETH/USDT")}


@pytest.fixture
def emulator(reference: dict[str, Candles]) -> Iterator[EmulatorServer]:
    """The venue at DATA_END: every served bar has closed."""
    with EmulatorServer(EmulatorConfig(timeframe="1h", start_ms=DATA_END), reference) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """The script imported in-process, for the quick usage checks."""
    spec = importlib.util.spec_from_file_location("fetch_data_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


def test_fetch_resume_and_exit_codes(
    tmp_path: Path, emulator: EmulatorServer, reference: dict[str, Candles]
) -> None:
    emulator.add_fault(FaultRule(kind="http_5xx", endpoint=KLINES, nth=2, status=502))
    emulator.add_fault(FaultRule(kind="http_429", endpoint=KLINES, nth=4, retry_after_s=0))
    data = tmp_path / "data"
    args = ("--exchange", "binance", "--symbols", "BTC/USDT,ETH/USDT", "--timeframe", "1h",
            "--since", "2023-03-01", "--data", str(data), "--api-url", emulator.url,
            "--page-limit", "500", "--no-progress", *FAST_RETRY)
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("BINANCE BTC/USDT 1h: +1463 bars (2023-03-01 00:00 -> 2023-04-30")
    assert "2 retries" in lines[0] and "1 missing bar in 1 gap" in lines[0]
    assert "retry 1 in 0.01s after fetch_ohlcv BTC/USDT 1h" in done.stderr
    assert "DDoSProtection" in done.stderr
    store = ParquetStore(data)
    for symbol, expected in reference.items():
        stored = store.read("BINANCE", symbol, "1h")
        for name in ("timestamp", "open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(stored, name), getattr(expected, name))

    seen = len(emulator.requests(KLINES))
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "+0 bars (no new bars), resumed at 2023-05-01 00:00" in again.stdout
    assert emulator.requests(KLINES)[seen].params["startTime"] == str(DATA_END)

    unknown = run_cli(*args[:3], "BTC/USDT,DOGE/BTC", *args[4:])
    assert unknown.returncode == 1
    assert "error: market DOGE/BTC: BadSymbol: binance does not have market symbol DOGE/BTC" \
        in unknown.stderr
    assert len(emulator.requests(KLINES)) == seen + 2  # checked before any download


def test_bad_usage_exits_2_in_a_subprocess() -> None:
    done = run_cli("--exchange", "binanc", "--symbols", "BTC/USDT", "--timeframe", "1h",
                   "--since", "2024-01-01", "--api-url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "error: unknown exchange id 'binanc'; did you mean binance" in done.stderr
    missing = run_cli("--exchange", "binance")
    assert missing.returncode == 2 and "required" in missing.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--since": "2024-31-01"}, "bad date/time '2024-31-01'"),
        ({"--until": "2023-12-31"}, "--until (2023-12-31) must be after --since"),
        ({"--timeframe": "7x"}, "unknown timeframe '7x'"),
        ({"--symbols": "BTCUSDT"}, "malformed symbol 'BTCUSDT'"),
        ({"--symbols": " , "}, "--symbols is empty"),
        ({"--venue": "BIN-ANCE"}, "malformed venue"),
        ({"--retries": "0"}, "must be positive"),
        ({"--api-url": "localhost"}, "malformed --api-url"),
    ],
)
def test_bad_usage_exits_2(
    script: ModuleType, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    change: dict[str, str], message: str,
) -> None:
    options = {"--exchange": "binance", "--symbols": "BTC/USDT", "--timeframe": "1h",
               "--since": "2024-01-01", "--data": str(tmp_path), "--api-url": "http://127.0.0.1:9"}
    options.update(change)
    argv = [item for pair in options.items() for item in pair]
    assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "hint: run with --help" in err
    assert list(tmp_path.iterdir()) == []


def test_default_data_folder_is_relative_to_cwd(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["--exchange", "binance", "--symbols", "eth/usdt", "--timeframe", "1h", "--since",
            "2023-04-30T20:00:00Z", "--api-url", emulator.url, "--venue", "testvenue"]
    assert script.main(argv) == 0
    assert "TESTVENUE ETH/USDT 1h: +4 bars" in capsys.readouterr().out
    assert (tmp_path / "data" / "ohlcv" / "TESTVENUE_ETH-USDT_1h.parquet").is_file()
