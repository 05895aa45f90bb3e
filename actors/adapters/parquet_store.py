"""Parquet candle store with the layout of the shared data folder.

Layout (relative to the store root), identical to ``../shared/data``::

    ohlcv/<VENUE>_<BASE>-<QUOTE>_<TF>.parquet      timestamp int64 ms, OHLCV float64
                                                   (+ optional spread/funding float64)
    funding/<VENUE>_<BASE>-<QUOTE>_funding_rate.parquet   timestamp int64, funding_rate float64

Reads validate every series (:func:`core.data.validation.validate_candles`) and record the
file and its SHA-256 in ``meta.files``. Appends merge new bars into the stored ones without
ever overwriting a stored bar with different values, and replace the file atomically
(zstd-compressed). Funding rates are read here too; see :func:`core.data.funding.align_funding`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from actors.adapters.files import (
    atomic_write,
    column_array,
    locked_directory,
    read_table,
    sha256_file,
)
from core.data.candles import OHLCV_COLUMNS, OPTIONAL_COLUMNS, Candles, SeriesMeta
from core.data.funding import FundingRates
from core.data.naming import funding_filename, ohlcv_filename, parse_symbol, token_symbol
from core.data.timeframes import TIMEFRAME_MS, timeframe_to_ms
from core.data.validation import validate_candles
from core.errors import DataError, DataNotFoundError, DataValidationError

_SERIES_FILE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+-[A-Z0-9]+)_([0-9]+[a-zA-Z]+)\.parquet$")
COMPRESSION = "zstd"


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One stored candle series, parsed from its file name."""

    venue: str
    symbol: str
    timeframe: str
    path: Path


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Outcome of :meth:`ParquetStore.append`.

    Attributes:
        added: Bars written that were not stored before.
        skipped_duplicates: New bars identical to stored ones (not written again).
        path: The series file.
    """

    added: int
    skipped_duplicates: int
    path: Path




def write_candles(path: Path, candles: Candles) -> None:
    """Write candles atomically as zstd Parquet with the shared files' schema."""
    names = list(OHLCV_COLUMNS) + [n for n in OPTIONAL_COLUMNS if getattr(candles, n) is not None]
    arrays = [pa.array(getattr(candles, name)) for name in names]
    table = pa.Table.from_arrays(arrays, names=names)
    atomic_write(path, lambda temp: pq.write_table(table, temp, compression=COMPRESSION))


def _value_columns(candles: Candles) -> list[str]:
    """Names of the value columns a series carries (OHLCV plus present optional ones)."""
    return [*OHLCV_COLUMNS[1:], *(n for n in OPTIONAL_COLUMNS if getattr(candles, n) is not None)]


def _merge(stored: Candles, new: Candles, path: Path) -> tuple[Candles, int, int]:
    """Union of stored and new bars; identical overlaps are skipped, differing ones refused."""
    columns, new_columns = _value_columns(stored), _value_columns(new)
    if columns != new_columns:
        raise DataError(f"{path}: stored columns {columns} differ from new columns {new_columns}")
    present = np.zeros(len(new), dtype=bool)
    if len(stored):
        index = np.minimum(np.searchsorted(stored.timestamp, new.timestamp), len(stored) - 1)
        present = stored.timestamp[index] == new.timestamp
        rows, stored_rows = np.flatnonzero(present), index[present]
        differs = np.zeros(len(rows), dtype=bool)
        for name in columns:
            differs |= getattr(stored, name)[stored_rows] != getattr(new, name)[rows]
        if differs.any():
            row, at = int(rows[np.argmax(differs)]), int(stored_rows[np.argmax(differs)])
            detail = ", ".join(
                f"{name} stored {getattr(stored, name)[at]!r} new {getattr(new, name)[row]!r}"
                for name in columns
                if getattr(stored, name)[at] != getattr(new, name)[row]
            )
            ts = int(new.timestamp[row])
            raise DataError(
                f"{path}: bar at {ts} ({_iso(ts)}) differs from the stored bar ({detail}); "
                "stored bars are never overwritten: move the file away to re-download"
            )
    fresh = new.take(~present)
    if len(fresh) == 0:
        return stored, 0, int(present.sum())
    merged = {name: np.concatenate([getattr(stored, name), getattr(fresh, name)])
              for name in ("timestamp", *columns)}
    if len(stored) and fresh.timestamp[0] <= stored.timestamp[-1]:  # backfill: keep time order
        order = np.argsort(merged["timestamp"], kind="stable")
        merged = {name: values[order] for name, values in merged.items()}
    return Candles(meta=stored.meta, **merged), len(fresh), int(present.sum())


class ParquetStore:
    """Candle series in Parquet files under ``root`` (see the module docstring for the layout).

    The shared folder ``../shared/data`` is a valid (read-only) store. Writers hold an
    exclusive lock on the ``ohlcv/`` directory during each append.
    """

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root)

    @property
    def root(self) -> Path:
        """The store's root folder."""
        return self._root

    def path_for(self, venue: str, symbol: str, timeframe: str) -> Path:
        """Path of a series file (whether it exists or not).

        Raises:
            DataError: For a malformed venue or symbol or an unknown timeframe.
        """
        timeframe_to_ms(timeframe)
        return self._root / ohlcv_filename(venue, symbol, timeframe)

    def exists(self, venue: str, symbol: str, timeframe: str) -> bool:
        """True when the series file exists."""
        return self.path_for(venue, symbol, timeframe).is_file()

    def list_series(
        self, *, venue: str | None = None, timeframe: str | None = None
    ) -> list[SeriesKey]:
        """Every series in ``ohlcv/`` (optionally filtered), sorted by venue, symbol, timeframe."""
        folder = self._root / "ohlcv"
        keys = []
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            match = _SERIES_FILE.match(path.name)
            if match is None or match.group(3) not in TIMEFRAME_MS:
                continue
            key = SeriesKey(match.group(1), token_symbol(match.group(2)), match.group(3), path)
            if (venue is None or key.venue == venue.upper()) and timeframe in (None, key.timeframe):
                keys.append(key)
        return sorted(keys, key=lambda k: (k.venue, k.symbol, timeframe_to_ms(k.timeframe)))

    def read(
        self,
        venue: str,
        symbol: str,
        timeframe: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Candles:
        """Read and validate a series, optionally only open times in ``[start_ms, end_ms)``.

        Raises:
            DataNotFoundError: If the series is not stored (the message lists what is) or the
                window holds no bars.
            DataValidationError: If the stored bars violate an invariant.
            DataError: If the file is unreadable or has the wrong schema.
        """
        path = self.path_for(venue, symbol, timeframe)
        if not path.is_file():
            raise DataNotFoundError(self._missing_message(venue, symbol, timeframe, path))
        candles = self._read_file(path, venue, symbol, timeframe)
        window = candles.between(start_ms, end_ms)
        if len(window) == 0:
            span = "no bars" if len(candles) == 0 else (
                f"bars from {_iso(int(candles.timestamp[0]))} to {_iso(int(candles.timestamp[-1]))}"
            )
            wanted = f"[{_iso(start_ms) if start_ms is not None else '-inf'}, " + (
                f"{_iso(end_ms) if end_ms is not None else '+inf'})"
            )
            raise DataNotFoundError(f"{path}: no bars in window {wanted}; the file holds {span}")
        return window

    def last_timestamp(self, venue: str, symbol: str, timeframe: str) -> int | None:
        """Open time of the last stored bar, or None when nothing is stored (reads one column)."""
        path = self.path_for(venue, symbol, timeframe)
        if not path.is_file():
            return None
        table = read_table(path, ["timestamp"])
        if table.num_rows == 0:
            return None
        return int(pc.max(table.column("timestamp")).as_py())

    def append(self, candles: Candles) -> AppendResult:
        """Merge ``candles`` into the stored series named by ``candles.meta``.

        Bars at timestamps not yet stored are added (normally after the last stored bar;
        earlier ones backfill in time order). Bars identical to stored ones are skipped.
        The merged series is validated and written atomically; nothing is written when no
        bar is new.

        Raises:
            DataValidationError: If the new bars (or the merged series) violate an invariant.
            DataError: If a new bar differs from the stored bar at the same timestamp (the
                message names the timestamp), or the optional columns differ.
        """
        validate_candles(candles)
        meta = candles.meta
        path = self.path_for(meta.venue, meta.symbol, meta.timeframe)
        with locked_directory(path.parent):
            if not path.is_file():
                if len(candles):
                    write_candles(path, candles)
                return AppendResult(len(candles), 0, path)
            stored = self._read_file(path, meta.venue, meta.symbol, meta.timeframe)
            merged, added, skipped = _merge(stored, candles, path)
            if added:
                validate_candles(merged)
                write_candles(path, merged)
        return AppendResult(added, skipped, path)

    def funding_path(self, venue: str, symbol: str) -> Path:
        """Path of the funding-rate file of ``symbol`` at ``venue``."""
        return self._root / funding_filename(venue, symbol)

    def read_funding(self, venue: str, symbol: str) -> FundingRates:
        """Read funding rates (settlement times ascending, finite rates).

        Raises:
            DataNotFoundError: If no funding file exists for the pair.
            DataValidationError: On NaN rates or times not strictly increasing.
        """
        path = self.funding_path(venue, symbol)
        if not path.is_file():
            raise DataNotFoundError(f"no funding rates for {venue} {symbol}: {path} not found")
        table, source = read_table(path), str(path)
        timestamp = column_array(table, "timestamp", source, integer=True)
        rate = column_array(table, "funding_rate", source)
        check_funding(timestamp, rate, source)
        return FundingRates(timestamp, rate, source, ((source, sha256_file(path)),))

    def _read_file(self, path: Path, venue: str, symbol: str, timeframe: str) -> Candles:
        source = str(path)
        table = read_table(path)
        meta = SeriesMeta(
            venue=venue.strip().upper(),
            symbol="/".join(parse_symbol(symbol)),
            timeframe=timeframe,
            source=source,
            files=((source, sha256_file(path)),),
        )
        columns = {name: column_array(table, name, source, integer=name == "timestamp")
                   for name in OHLCV_COLUMNS}
        for name in OPTIONAL_COLUMNS:
            if name in table.column_names:
                columns[name] = column_array(table, name, source)
        candles = Candles(meta=meta, **columns)
        validate_candles(candles)
        return candles

    def _missing_message(self, venue: str, symbol: str, timeframe: str, path: Path) -> str:
        wanted = f"no candles for {venue.upper()} {symbol} {timeframe}: {path} not found"
        series = self.list_series()
        if not series:
            return f"{wanted}; the store {self._root} holds no series (expected ohlcv/*.parquet)"
        same = [k.symbol for k in series if k.venue == venue.upper() and k.timeframe == timeframe]
        other = sorted({f"{k.venue} {k.timeframe}" for k in series
                        if k.symbol == "/".join(parse_symbol(symbol))})
        hint = f"available {venue.upper()} {timeframe} symbols: {', '.join(same) or 'none'}"
        if other:
            hint += f"; {symbol} is stored as: {', '.join(other)}"
        return f"{wanted}; {hint}"


def _iso(timestamp_ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MMZ`` (UTC)."""
    return np.datetime_as_string(np.datetime64(int(timestamp_ms), "ms"), unit="m") + "Z"


def check_funding(timestamp: np.ndarray, rate: np.ndarray, source: str) -> None:
    """Fail on non-finite rates or settlement times that do not strictly increase."""
    bad_rate = ~np.isfinite(rate)
    backwards = np.zeros(len(timestamp), dtype=bool)
    backwards[1:] = np.diff(timestamp) <= 0
    for mask, problem in ((bad_rate, "funding rate is not finite"),
                          (backwards, "funding times not strictly increasing")):
        if mask.any():
            row = int(np.argmax(mask))
            raise DataValidationError(problem, source=source, row=row,
                                      timestamp_ms=int(timestamp[row]))
