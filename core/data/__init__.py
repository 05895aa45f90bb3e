"""Market data: candles, validation, gaps, resampling and synthetic markets (pure)."""

from core.data.candles import OHLCV_COLUMNS, Candles, SeriesMeta
from core.data.naming import ohlcv_filename, parse_symbol, symbol_token, token_symbol
from core.data.timeframes import TIMEFRAME_MS, periods_per_year, timeframe_to_ms

__all__ = [
    "OHLCV_COLUMNS",
    "TIMEFRAME_MS",
    "Candles",
    "SeriesMeta",
    "ohlcv_filename",
    "parse_symbol",
    "periods_per_year",
    "symbol_token",
    "timeframe_to_ms",
    "token_symbol",
]
