"""Market data: candles, validation, gaps, resampling and synthetic markets (pure).

The names below are imported on first use (PEP 562), so a process that needs only a small
module of this package (``core.data.timeframes``) does not compile the numba kernels of the
synthetic market.
"""

from __future__ import annotations

from core.lazy import lazy_exports

_EXPORTS = {
    "OHLCV_COLUMNS": "candles", "Candles": "candles", "SeriesMeta": "candles",
    "FundingAlignment": "funding", "FundingRates": "funding", "align_funding": "funding",
    "Gap": "gaps", "GapReport": "gaps", "fill_gaps": "gaps", "find_gaps": "gaps",
    "ohlcv_filename": "naming", "parse_symbol": "naming", "symbol_token": "naming",
    "token_symbol": "naming",
    "complete_bins_mask": "resample", "resample": "resample",
    "Regime": "synthetic", "SyntheticParams": "synthetic",
    "generate_synthetic": "synthetic", "generate_synthetic_with_regimes": "synthetic",
    "TIMEFRAME_MS": "timeframes", "periods_per_year": "timeframes",
    "timeframe_to_ms": "timeframes",
    "validate_candles": "validation",
}

__all__ = sorted(_EXPORTS)


# A function named like its submodule is bound at once: importing the submodule elsewhere
# first would otherwise leave the package attribute pointing at the module.
from core.data.resample import resample  # noqa: E402, F401

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
