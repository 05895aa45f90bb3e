"""Read candles from a plain CSV file with a header row.

Accepted header (case-insensitive, surrounding spaces ignored; extra columns are ignored):

- a time column: ``timestamp``, ``date``, ``time``, ``datetime`` or ``open_time`` (first found,
  or the one named by ``time_column``). Numbers are epoch times whose unit is detected from
  their magnitude (seconds, milliseconds, microseconds or nanoseconds); text is ISO-8601,
  taken as UTC unless it carries an offset (``+02:00`` or ``Z``).
- ``open``, ``high``, ``low``, ``close``, ``volume``; optionally ``spread`` and ``funding``.

Delimiters ``,``, ``;`` and tab are recognised from the header line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from actors.adapters.files import sha256_file
from core.data.candles import OHLCV_COLUMNS, OPTIONAL_COLUMNS, Candles, SeriesMeta
from core.data.validation import validate_candles
from core.errors import DataError

TIME_COLUMNS = ("timestamp", "date", "time", "datetime", "open_time")
# Upper bounds (exclusive) of epoch values per unit, and the factor to milliseconds.
_UNITS = ((1e11, "seconds", 1000.0), (1e14, "milliseconds", 1.0),
          (1e17, "microseconds", 1e-3), (1e20, "nanoseconds", 1e-6))


def _where(path: Path, row: int) -> str:
    """Human position of a data row: zero-based row and 1-based file line (header is line 1)."""
    return f"{path}: row {row} (line {row + 2})"


def _header(path: Path) -> tuple[str, list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read CSV {path}: {exc}") from exc
    if not first.strip():
        raise DataError(f"{path}: empty file; expected a header row such as {TIME_COLUMNS[0]},"
                        f"{','.join(OHLCV_COLUMNS[1:])}")
    delimiter = max(",;\t", key=first.count)
    return delimiter, next(csv.reader([first], delimiter=delimiter))


def _epoch_ms(values: pd.Series, numbers: pd.Series, path: Path, name: str) -> np.ndarray:
    """Epoch numbers -> int64 ms; the unit comes from the magnitude and must be consistent."""
    magnitude = numbers.abs().to_numpy()
    unit_index = np.searchsorted([u[0] for u in _UNITS], magnitude, side="right")
    if (unit_index >= len(_UNITS)).any():
        row = int(np.argmax(unit_index >= len(_UNITS)))
        raise DataError(f"{_where(path, row)}: {name} {values.iloc[row]!r} is too large")
    if (unit_index != unit_index[0]).any():
        row = int(np.argmax(unit_index != unit_index[0]))
        raise DataError(
            f"{_where(path, row)}: {name} {values.iloc[row]!r} is in {_UNITS[unit_index[row]][1]} "
            f"but row 0 is in {_UNITS[unit_index[0]][1]}; use one unit for the whole column"
        )
    millis = numbers.to_numpy(dtype=np.float64) * _UNITS[unit_index[0]][2]
    rounded = np.round(millis)
    off = np.abs(millis - rounded) > 1e-6 * np.maximum(1.0, np.abs(millis))
    if off.any():
        row = int(np.argmax(off))
        raise DataError(f"{_where(path, row)}: {name} {values.iloc[row]!r} is not whole ms")
    return rounded.astype(np.int64)


def _times_ms(values: pd.Series, path: Path, name: str) -> np.ndarray:
    """Parse the time column (epoch numbers or ISO-8601 text) to int64 ms UTC."""
    text = values.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        return _epoch_ms(values, numbers, path, name)
    if numbers.notna().any():
        row = int(np.argmax(numbers.isna().to_numpy()))
        raise DataError(f"{_where(path, row)}: unparseable {name} {values.iloc[row]!r}; "
                        "the column mixes epoch numbers and text")
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise DataError(f"{_where(path, row)}: unparseable {name} {values.iloc[row]!r}; "
                        "expected ISO-8601 such as 2024-01-01T00:00:00Z or epoch ms")
    nanos = parsed.dt.as_unit("ns").astype("int64").to_numpy()
    off = nanos % 1_000_000 != 0
    if off.any():
        row = int(np.argmax(off))
        raise DataError(f"{_where(path, row)}: {name} {values.iloc[row]!r} is not whole ms")
    return nanos // 1_000_000


def _numbers(values: pd.Series, path: Path, name: str, timestamps: np.ndarray) -> np.ndarray:
    parsed = pd.to_numeric(values.str.strip(), errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        moment = np.datetime64(int(timestamps[row]), "ms")
        raise DataError(f"{_where(path, row)}, timestamp {timestamps[row]} ({moment} UTC): "
                        f"{name} {values.iloc[row]!r} is not a number")
    return parsed.to_numpy(dtype=np.float64)


def read_csv_candles(
    path: Path,
    *,
    symbol: str,
    timeframe: str,
    venue: str = "CSV",
    time_column: str | None = None,
) -> Candles:
    """Read and validate candles from a CSV file (format in the module docstring).

    Args:
        path: The CSV file.
        symbol: ccxt symbol the bars belong to (``meta.symbol``).
        timeframe: Bar length, e.g. ``"1h"``.
        venue: Venue token for ``meta.venue``.
        time_column: Name of the time column when it is none of :data:`TIME_COLUMNS`.

    Raises:
        DataError: On a missing column, an unparseable time or number (naming the row and
            file line), or an empty file.
        DataValidationError: On corrupt bars (non-positive price, disorder, duplicates, ...).
    """
    path = Path(path)
    delimiter, header = _header(path)
    names = [name.strip().lower() for name in header]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(f"{path}: duplicate column(s) {duplicated} in header {header}")
    wanted_time = [time_column.strip().lower()] if time_column else list(TIME_COLUMNS)
    time_name = next((name for name in wanted_time if name in names), None)
    missing = [name for name in OHLCV_COLUMNS[1:] if name not in names]
    if time_name is None or missing:
        need = missing + ([] if time_name else [" or ".join(wanted_time)])
        raise DataError(f"{path}: missing column(s) {need}; header is {header}")
    try:
        frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig", header=0, names=names)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse CSV {path}: {exc}") from exc
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows")
    source = str(path)
    columns = {"timestamp": _times_ms(frame[time_name], path, time_name)}
    for name in OHLCV_COLUMNS[1:] + tuple(n for n in OPTIONAL_COLUMNS if n in names):
        columns[name] = _numbers(frame[name], path, name, columns["timestamp"])
    meta = SeriesMeta(
        venue=venue.strip().upper(),
        symbol=symbol.strip().upper(),
        timeframe=timeframe,
        source=source,
        files=((source, sha256_file(path)),),
    )
    candles = Candles(meta=meta, **columns)
    validate_candles(candles)
    return candles
