"""scripts/import_data.py: freqtrade / CSV / Parquet-store data into a Parquet store."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from actors.adapters.parquet_store import ParquetStore
from core.data.candles import Candles

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "import_data.py"
H = 3_600_000
T0 = 1_677_628_800_000  # 2023-03-01
T1 = T0 + 800 * H
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_data_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def btc(shared_data: Path) -> Candles:
    return ParquetStore(shared_data).read("BINANCE", "BTC/USDT", "1h", start_ms=T0, end_ms=T1)


def write_freqtrade(folder: Path, candles: Candles) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame = candles.to_frame()
    frame.insert(0, "date", pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True))
    path = folder / "BTC_USDT-1h.feather"
    frame.to_feather(path)
    return path


def assert_same_bars(a: Candles, b: Candles) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_import_freqtrade_folder_in_a_subprocess(tmp_path: Path, btc: Candles) -> None:
    source = tmp_path / "user_data" / "data" / "binance"
    write_freqtrade(source, btc)
    target = tmp_path / "store"
    args = [sys.executable, str(SCRIPT), "--from", str(source), "--to", str(target),
            "--symbol", "BTC/USDT", "--timeframe", "1h"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"BINANCE BTC/USDT 1h: {len(btc)} bars read" in done.stdout
    assert f"+{len(btc)} added" in done.stdout
    assert_same_bars(ParquetStore(target).read("BINANCE", "BTC/USDT", "1h"), btc)


def test_reimport_is_idempotent_and_conflicts_are_refused(
    script: ModuleType, tmp_path: Path, btc: Candles, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "binance"
    feather = write_freqtrade(source, btc.take(slice(0, 500)))
    target = tmp_path / "store"
    argv = ["--from", str(source), "--to", str(target), "--symbol", "BTC/USDT",
            "--timeframe", "1h"]
    assert script.main(argv) == 0
    write_freqtrade(source, btc)  # more history arrives
    assert script.main(argv) == 0
    assert f"+{len(btc) - 500} added, 500 already stored" in capsys.readouterr().out
    stored = target / "ohlcv" / "BINANCE_BTC-USDT_1h.parquet"
    before = stored.read_bytes()

    close = btc.close.copy()
    close[10] = btc.high[10]
    write_freqtrade(source, btc.replace(close=close))
    assert feather.exists()
    assert script.main(argv) == 2
    assert "differs from the stored bar" in capsys.readouterr().err
    assert stored.read_bytes() == before


def test_import_csv_and_a_store_window(
    script: ModuleType, tmp_path: Path, btc: Candles, shared_data: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv = tmp_path / "btc.csv"
    btc.to_frame().to_csv(csv, index=False)
    target = tmp_path / "store"
    assert script.main(["--from", str(csv), "--to", str(target), "--symbol", "BTC/USDT",
                        "--timeframe", "1h"]) == 0
    assert_same_bars(ParquetStore(target).read("CSV", "BTC/USDT", "1h"), btc)

    assert script.main(["--from", str(shared_data), "--to", str(target), "--symbol",
                        "BTC/USDT,ETH/USDT", "--timeframe", "1h", "--start", "2023-03-01",
                        "--end", "2023-03-02"]) == 0
    out = capsys.readouterr().out
    assert "BINANCE ETH/USDT 1h: 24 bars read" in out and "(parquet_store)" in out
    assert_same_bars(ParquetStore(target).read("BINANCE", "BTC/USDT", "1h"),
                     btc.between(T0, T0 + 24 * H))


@pytest.mark.parametrize(
    ("argv_change", "message"),
    [
        ({"--symbol": "BTCUSDT"}, "malformed symbol"),
        ({"--timeframe": "2w"}, "unknown timeframe"),
        ({"--from": "/nonexistent/folder"}, "does not exist"),
        ({"--start": "soon"}, "bad date/time"),
    ],
)
def test_bad_input_exits_2(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    argv_change: dict[str, str], message: str,
) -> None:
    source = tmp_path / "binance"
    source.mkdir()
    options = {"--from": str(source), "--to": str(tmp_path / "store"), "--symbol": "BTC/USDT",
               "--timeframe": "1h"} | argv_change
    assert script.main([item for pair in options.items() for item in pair]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
