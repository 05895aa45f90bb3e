"""Load the candles of a run: any data layout, resampling, funding, alignment, fallback.

Shared by every command that runs on market data (backtests, validation, the demo): the
series are loaded up to the window's end (the history before the window serves as warm-up),
coarser timeframes are resampled from the finest stored one, funding is attached where the
venue has it, several symbols are aligned on their common bars, and — only when allowed and
nothing at all is stored — the seeded synthetic market stands in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.adapters.data_source import available_symbols, load_candles, load_funding
from actors.runs.window import WindowRequest
from configs.app import AppConfig
from core.data import TIMEFRAME_MS, Candles, generate_synthetic, resample
from core.data.funding import align_funding
from core.data.naming import parse_symbol
from core.data.timeframes import timeframe_to_ms
from core.errors import DataNotFoundError, EvotraderError, UsageError


@dataclass(frozen=True)
class LoadedSeries:
    """Aligned candles per symbol, plus notes worth telling the user."""

    candles: tuple[Candles, ...]
    notes: tuple[str, ...]


def load_series(config: AppConfig, symbols: tuple[str, ...], window: WindowRequest, *,
                allow_synthetic: bool = False) -> LoadedSeries:
    """Load and align every symbol up to the end of ``window``.

    Raises:
        UsageError: No data for a symbol (with the symbols that exist as a hint).
        DataError: Corrupt data.
    """
    notes: list[str] = []
    series = []
    for symbol in symbols:
        candles = _load_one(config, symbol, window.end_ms, allow_synthetic)
        candles, note = _with_funding(candles, config)
        series.append(candles)
        notes.extend([note] if note else [])
    return LoadedSeries(tuple(_align(series)), tuple(notes))


def window_bounds(window: WindowRequest, candles: Candles) -> tuple[int, int]:
    """``[start, end)`` in ms: explicit bounds, or the trailing duration ending at the last bar."""
    end = int(candles.timestamp[-1]) + candles.timeframe_ms
    if window.duration_ms is not None:
        return end - window.duration_ms, end
    if window.start_ms is None or window.end_ms is None:
        return int(candles.timestamp[0]), end
    return int(window.start_ms), int(window.end_ms)


def span_text(candles: Candles) -> str:
    """The first and last bar of a series, for error hints."""
    if not len(candles):
        return "nothing"
    first, last = (np.datetime64(int(t), "ms") for t in (candles.timestamp[0],
                                                          candles.timestamp[-1]))
    return f"{first} .. {last} UTC"


def _load_resampled(data_dir: Path, venue: str, symbol: str, timeframe: str,
                    end_ms: int | None) -> Candles | None:
    """The series resampled from the coarsest stored timeframe that divides ``timeframe``."""
    target = timeframe_to_ms(timeframe)
    finer = [tf for tf, ms in TIMEFRAME_MS.items() if ms < target and target % ms == 0]
    for source_tf in sorted(finer, key=TIMEFRAME_MS.__getitem__, reverse=True):
        try:
            candles = load_candles(data_dir, venue=venue, symbol=symbol, timeframe=source_tf,
                                   end_ms=end_ms)
        except DataNotFoundError:
            continue
        return resample(candles, timeframe, partial="drop")
    return None


def _load_one(config: AppConfig, symbol: str, end_ms: int | None,
              allow_synthetic: bool) -> Candles:
    data = config.data
    data_dir = Path(data.resolve_dir()).resolve()
    try:
        return load_candles(data_dir, venue=data.venue, symbol=symbol,
                            timeframe=data.timeframe, end_ms=end_ms)
    except DataNotFoundError as error:
        resampled = _load_resampled(data_dir, data.venue, symbol, data.timeframe, end_ms)
        if resampled is not None:
            return resampled
        if allow_synthetic and not _has_series(data_dir, data.venue, data.timeframe):
            return generate_synthetic(symbol=symbol, timeframe=data.timeframe,
                                      bars=data.synthetic_bars, seed=config.app.seed)
        known = available_symbols(data_dir, data.venue, data.timeframe)
        hint = f"; available at {data.venue} {data.timeframe}: {', '.join(known)}" if known \
            else ""
        raise UsageError(f"no data for {symbol}: {error}{hint}") from None


def _has_series(data_dir: Path, venue: str, timeframe: str) -> bool:
    return bool(available_symbols(data_dir, venue, timeframe))


def _with_funding(candles: Candles, config: AppConfig) -> tuple[Candles, str | None]:
    data = config.data
    try:
        funding = load_funding(Path(data.resolve_dir()).resolve(), data.venue,
                               candles.meta.symbol)
    except (DataNotFoundError, FileNotFoundError):
        return candles, None
    aligned = align_funding(candles, funding, strict=False)
    note = None
    if len(aligned.unmatched_ms):
        note = (f"{len(aligned.unmatched_ms)} funding settlement(s) of {candles.meta.symbol} "
                "fall on missing bars and were not charged")
    return aligned.candles, note


def _align(series: list[Candles]) -> list[Candles]:
    if len(series) == 1:
        return series
    common = series[0].timestamp
    for candles in series[1:]:
        common = np.intersect1d(common, candles.timestamp, assume_unique=True)
    return [c.take(np.searchsorted(c.timestamp, common)) for c in series]


def parse_symbols(text: str) -> tuple[str, ...]:
    """``BTC/USDT,ETH/USDT`` -> a tuple of upper-case symbols; ``UsageError`` if malformed."""
    symbols = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    if not symbols:
        raise UsageError("--symbol is empty; e.g. --symbol BTC/USDT")
    for symbol in symbols:
        try:
            parse_symbol(symbol)
        except EvotraderError as err:
            raise UsageError(str(err)) from None
    return symbols
