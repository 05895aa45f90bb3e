"""Load candles from whatever the user points at: a Parquet store, a freqtrade folder or a CSV.

Accepted layouts (checked in this order):

1. a Parquet store: a directory with an ``ohlcv/`` folder of
   ``<VENUE>_<BASE>-<QUOTE>_<TF>.parquet`` files (like ``../shared/data``);
2. a freqtrade exchange folder: a directory with files such as ``BTC_USDT-1h.feather`` /
   ``.json`` / ``.json.gz`` / ``.parquet`` (futures under ``futures/``);
3. a single ``.csv`` file with a header row (time column and open/high/low/close/volume).

Funding rates come from a store's ``funding/`` folder or a freqtrade ``futures/`` folder;
:func:`core.data.funding.align_funding` puts them onto candles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from actors.adapters.freqtrade_reader import (
    is_freqtrade_folder,
    list_freqtrade,
    read_freqtrade,
    read_freqtrade_funding,
)
from actors.adapters.parquet_store import ParquetStore
from core.data.candles import Candles
from core.data.funding import FundingRates
from core.data.times import parse_time_ms as parse_time_ms
from core.errors import DataNotFoundError

Layout = Literal["parquet_store", "freqtrade", "csv"]

LAYOUTS_HELP = (
    "accepted data layouts: (1) a Parquet store directory containing ohlcv/"
    "<VENUE>_<BASE>-<QUOTE>_<TF>.parquet files; (2) a freqtrade data folder such as "
    "user_data/data/binance holding BTC_USDT-1h.feather/.json/.json.gz files; "
    "(3) a .csv file with a header (timestamp or date, open, high, low, close, volume)"
)


def detect_layout(data: Path) -> Layout:
    """Tell which of the accepted layouts ``data`` is.

    Raises:
        DataNotFoundError: If ``data`` does not exist or matches no layout (the message
            explains the three accepted layouts).
    """
    data = Path(data)
    if data.is_dir() and (data / "ohlcv").is_dir():
        return "parquet_store"
    if data.is_dir() and is_freqtrade_folder(data):
        return "freqtrade"
    if data.is_file() and data.suffix.lower() == ".csv":
        return "csv"
    state = "does not exist" if not data.exists() else "is not a recognised data source"
    raise DataNotFoundError(f"{data} {state}; {LAYOUTS_HELP}")


def load_candles(
    data: Path,
    *,
    venue: str,
    symbol: str,
    timeframe: str,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> Candles:
    """Load validated candles with open times in ``[start_ms, end_ms)`` from any layout.

    For a freqtrade folder, a symbol with a settle currency (``BTC/USDT:USDT``) reads the
    futures candles, otherwise spot. For a CSV file, ``venue`` and ``symbol`` only label
    the bars.

    Raises:
        DataNotFoundError: If the source, the series or the window holds no data.
        DataError: On unreadable or corrupt data.
    """
    data = Path(data)
    layout = detect_layout(data)
    if layout == "parquet_store":
        return ParquetStore(data).read(venue, symbol, timeframe, start_ms=start_ms, end_ms=end_ms)
    if layout == "freqtrade":
        market: Literal["spot", "futures"] = "futures" if ":" in symbol else "spot"
        candles = read_freqtrade(data, symbol, timeframe, venue=venue, market=market)
    else:
        from actors.adapters.csv_reader import read_csv_candles  # pandas: CSV files only

        candles = read_csv_candles(data, symbol=symbol, timeframe=timeframe, venue=venue)
    window = candles.between(start_ms, end_ms)
    if len(window) == 0:
        raise DataNotFoundError(
            f"{candles.meta.source}: no bars in the requested window "
            f"[{start_ms}, {end_ms}) (ms); the file holds {len(candles)} bars"
        )
    return window


def available_symbols(data: Path, venue: str, timeframe: str) -> list[str]:
    """Symbols available at ``venue`` and ``timeframe`` (for hints; [] for a CSV file).

    For a freqtrade folder the venue is not part of the file names and is ignored.
    """
    data = Path(data)
    try:
        layout = detect_layout(data)
    except DataNotFoundError:
        return []
    if layout == "parquet_store":
        series = ParquetStore(data).list_series(venue=venue, timeframe=timeframe)
        return [key.symbol for key in series]
    if layout == "freqtrade":
        return sorted({s.symbol for s in list_freqtrade(data)
                       if s.timeframe == timeframe and s.kind == "ohlcv"})
    return []


def load_funding(data: Path, venue: str, symbol: str) -> FundingRates:
    """Funding rates from a Parquet store (``funding/``) or a freqtrade ``futures/`` folder.

    Raises:
        DataNotFoundError: If the source has no funding rates for the pair.
    """
    layout = detect_layout(Path(data))
    if layout == "parquet_store":
        return ParquetStore(data).read_funding(venue, symbol)
    if layout == "freqtrade":
        return read_freqtrade_funding(Path(data), symbol)
    raise DataNotFoundError(f"{data}: a CSV file holds no funding rates")
