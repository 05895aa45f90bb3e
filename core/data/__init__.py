"""Market data: candles, validation, gaps, resampling and synthetic markets (pure)."""

from core.data.candles import OHLCV_COLUMNS, Candles, SeriesMeta
from core.data.funding import FundingAlignment, FundingRates, align_funding
from core.data.gaps import Gap, GapReport, fill_gaps, find_gaps
from core.data.naming import ohlcv_filename, parse_symbol, symbol_token, token_symbol
from core.data.resample import complete_bins_mask, resample
from core.data.synthetic import (
    Regime,
    SyntheticParams,
    generate_synthetic,
    generate_synthetic_with_regimes,
)
from core.data.timeframes import TIMEFRAME_MS, periods_per_year, timeframe_to_ms
from core.data.validation import validate_candles

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
    "FundingAlignment",
    "FundingRates",
    "Gap",
    "GapReport",
    "Regime",
    "SyntheticParams",
    "align_funding",
    "complete_bins_mask",
    "fill_gaps",
    "find_gaps",
    "generate_synthetic",
    "generate_synthetic_with_regimes",
    "resample",
    "validate_candles",
]
