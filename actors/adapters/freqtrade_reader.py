"""Read candles from a freqtrade data folder, so users can bring the data they already have.

A freqtrade exchange folder (``user_data/data/binance/``) holds, per pair and timeframe::

    BTC_USDT-1h.feather                              spot (also .parquet, .json, .json.gz)
    futures/BTC_USDT_USDT-1h-futures.feather         perpetual futures candles
    futures/BTC_USDT_USDT-8h-funding_rate.feather    funding rates (the rate is in ``open``)

Feather and Parquet files have the columns ``date`` (timestamp, UTC), open, high, low, close,
volume; JSON files are an array of ``[ts_ms, open, high, low, close, volume]`` rows. When a
series exists in several formats, the first of feather, parquet, json, json.gz is read.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from actors.adapters.files import column_array, sha256_file
from actors.adapters.parquet_store import check_funding
from core.data.candles import OHLCV_COLUMNS, Candles, SeriesMeta
from core.data.funding import FundingRates
from core.data.naming import parse_symbol
from core.data.validation import validate_candles
from core.errors import DataError, DataNotFoundError, DataValidationError

Market = Literal["spot", "futures"]
FORMATS = ("feather", "parquet", "json", "json.gz")
_FILE = re.compile(
    r"^(?P<pair>[A-Z0-9]+(?:_[A-Z0-9]+){1,2})-(?P<tf>[0-9]+[a-zA-Z]+)"
    r"(?:-(?P<kind>futures|mark|index|premiumIndex|funding_rate))?"
    r"\.(?P<ext>feather|parquet|json\.gz|json)$"
)


@dataclass(frozen=True, slots=True)
class FreqtradeSeries:
    """One data file of a freqtrade folder.

    Attributes:
        symbol: ccxt symbol (``"BTC/USDT"``, or ``"BTC/USDT:USDT"`` for futures files).
        timeframe: Timeframe token from the file name.
        market: ``"spot"`` or ``"futures"``.
        kind: ``"ohlcv"``, ``"funding_rate"``, ``"mark"``, ``"index"`` or ``"premiumIndex"``.
        format: File format (``feather``, ``parquet``, ``json``, ``json.gz``).
        path: The file.
    """

    symbol: str
    timeframe: str
    market: Market
    kind: str
    format: str
    path: Path


def freqtrade_pair(symbol: str, market: Market = "spot") -> str:
    """File-name pair of a symbol: ``BTC/USDT`` -> ``BTC_USDT``; futures -> ``BTC_USDT_USDT``.

    For futures, a symbol without settle currency (``BTC/USDT``) settles in its quote.
    """
    base, quote = parse_symbol(symbol)
    if market == "spot":
        return f"{base}_{quote}"
    settle = symbol.upper().partition(":")[2] or quote
    return f"{base}_{quote}_{settle}"


def _series_of(path: Path) -> FreqtradeSeries | None:
    match = _FILE.match(path.name)
    if match is None:
        return None
    parts = match.group("pair").split("_")
    symbol = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    kind = match.group("kind") or "ohlcv"
    market: Market = "spot" if len(parts) == 2 and kind == "ohlcv" else "futures"
    if kind == "futures":
        kind = "ohlcv"
    return FreqtradeSeries(symbol, match.group("tf"), market, kind, match.group("ext"), path)


def list_freqtrade(folder: Path) -> list[FreqtradeSeries]:
    """Every recognised data file in ``folder`` and ``folder/futures``, sorted by path."""
    found = []
    for directory in (Path(folder), Path(folder) / "futures"):
        if directory.is_dir():
            found += [s for p in sorted(directory.iterdir()) if (s := _series_of(p)) is not None]
    return found


def is_freqtrade_folder(folder: Path) -> bool:
    """True when ``folder`` holds at least one freqtrade data file."""
    return Path(folder).is_dir() and bool(list_freqtrade(folder))


def find_freqtrade_file(
    folder: Path, symbol: str, timeframe: str, *, market: Market = "spot", kind: str = "ohlcv"
) -> Path:
    """Locate the file of one series (see the module docstring for the names).

    Raises:
        DataNotFoundError: Listing the names looked for and the pairs available.
    """
    folder = Path(folder)
    pair = freqtrade_pair(symbol, market)
    suffix = {"ohlcv": "-futures" if market == "futures" else ""}.get(kind, f"-{kind}")
    directories = [folder / "futures", folder] if market == "futures" else [folder]
    names = [f"{pair}-{timeframe}{suffix}.{ext}" for ext in FORMATS]
    for directory in directories:
        for name in names:
            if (directory / name).is_file():
                return directory / name
    available = sorted({f"{s.symbol} {s.timeframe}" for s in list_freqtrade(folder)
                        if s.market == market and s.kind == kind})
    raise DataNotFoundError(
        f"no freqtrade {market} {kind} data for {symbol} {timeframe} in {folder} "
        f"(looked for {names[0]} / .parquet / .json / .json.gz); "
        f"available: {', '.join(available) or 'none'}"
    )


def _date_ms(table: pa.Table, source: str) -> np.ndarray:
    """The ``date`` column as int64 epoch ms (naive timestamps are taken as UTC)."""
    if "date" not in table.column_names:
        raise DataError(f"{source}: missing column 'date'; found {table.column_names}")
    column = table.column("date")
    if pa.types.is_timestamp(column.type):
        try:
            column = pc.cast(column, pa.timestamp("ms", column.type.tz)).cast(pa.int64())
        except pa.ArrowInvalid as exc:
            raise DataError(f"{source}: dates are not whole milliseconds: {exc}") from exc
        table = table.set_column(table.column_names.index("date"), "date", column)
    return column_array(table, "date", source, integer=True)


def _read_arrow(path: Path) -> dict[str, np.ndarray]:
    source = str(path)
    try:
        table = feather.read_table(path) if path.suffix == ".feather" else pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read freqtrade file {path}: {exc}") from exc
    columns = {"timestamp": _date_ms(table, source)}
    for name in OHLCV_COLUMNS[1:]:
        columns[name] = column_array(table, name, source)
    return columns


def _read_json(path: Path) -> dict[str, np.ndarray]:
    source = str(path)
    try:
        with (gzip.open(path, "rt") if path.name.endswith(".gz") else path.open()) as handle:
            rows = json.load(handle)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"cannot read freqtrade JSON {path}: {exc}") from exc
    if not isinstance(rows, list):
        raise DataError(f"{source}: expected a JSON array of [ts, o, h, l, c, v] rows")
    for row, values in enumerate(rows):
        ok = isinstance(values, list) and len(values) == 6 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        if not ok:
            raise DataValidationError(
                f"expected [ts_ms, open, high, low, close, volume] numbers, got {values!r:.80}",
                source=source, row=row,
            )
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), 6)
    timestamp = matrix[:, 0].astype(np.int64)
    off = timestamp != matrix[:, 0]
    if off.any():
        row = int(np.argmax(off))
        raise DataValidationError(
            f"timestamp {matrix[row, 0]!r} is not whole milliseconds", source=source, row=row
        )
    return {"timestamp": timestamp} | {
        name: matrix[:, i + 1] for i, name in enumerate(OHLCV_COLUMNS[1:])
    }


def _read_columns(path: Path) -> dict[str, np.ndarray]:
    return _read_json(path) if ".json" in path.name else _read_arrow(path)


def read_freqtrade(
    folder: Path,
    symbol: str,
    timeframe: str,
    *,
    venue: str = "BINANCE",
    market: Market = "spot",
) -> Candles:
    """Read and validate one candle series from a freqtrade data folder.

    Args:
        folder: The freqtrade exchange folder (``user_data/data/binance``).
        symbol: ``"BTC/USDT"`` (futures also ``"BTC/USDT:USDT"``).
        timeframe: e.g. ``"1h"``.
        venue: Venue token put in ``meta.venue``.
        market: ``"spot"`` or ``"futures"`` (``futures/<pair>_<settle>-<tf>-futures.*``).

    Raises:
        DataNotFoundError: If the file is missing (lists what the folder holds).
        DataError: On an unreadable file or wrong columns.
        DataValidationError: On corrupt bars (NaN, disorder, duplicates, ...).
    """
    path = find_freqtrade_file(folder, symbol, timeframe, market=market)
    source = str(path)
    meta = SeriesMeta(
        venue=venue.strip().upper(),
        symbol=symbol.strip().upper(),
        timeframe=timeframe,
        source=source,
        files=((source, sha256_file(path)),),
    )
    candles = Candles(meta=meta, **_read_columns(path))
    validate_candles(candles)
    return candles


def read_freqtrade_funding(folder: Path, symbol: str, timeframe: str | None = None) -> FundingRates:
    """Read a freqtrade funding-rate file (rate in the ``open`` column).

    Args:
        folder: The freqtrade exchange folder.
        symbol: Perpetual symbol (``"BTC/USDT:USDT"`` or ``"BTC/USDT"``).
        timeframe: Timeframe in the file name; None picks the only one present.

    Raises:
        DataNotFoundError: If no (or more than one, when ``timeframe`` is None) file matches.
        DataValidationError: On non-finite rates or times not strictly increasing.
    """
    if timeframe is None:
        pair = freqtrade_pair(symbol, "futures")
        options = sorted({
            s.timeframe for s in list_freqtrade(folder)
            if s.kind == "funding_rate" and freqtrade_pair(s.symbol, "futures") == pair
        })
        if len(options) != 1:
            raise DataNotFoundError(
                f"{folder}: expected one funding-rate file for {symbol}, found timeframes "
                f"{options or 'none'}; pass the timeframe"
            )
        timeframe = options[0]
    path = find_freqtrade_file(folder, symbol, timeframe, market="futures", kind="funding_rate")
    columns = _read_columns(path)
    check_funding(columns["timestamp"], columns["open"], str(path))
    return FundingRates(
        columns["timestamp"], columns["open"], str(path), ((str(path), sha256_file(path)),)
    )
