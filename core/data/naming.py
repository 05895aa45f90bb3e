"""Symbol parsing and the file naming of the OHLCV store (``<VENUE>_<BASE>-<QUOTE>_<TF>``)."""

from __future__ import annotations

import re

from core.errors import DataError

_SYMBOL = re.compile(r"^([A-Z0-9]{1,20})/([A-Z0-9]{1,20})(?::([A-Z0-9]{1,20}))?$")
_TOKEN = re.compile(r"^([A-Z0-9]{1,20})-([A-Z0-9]{1,20})$")


def parse_symbol(symbol: str) -> tuple[str, str]:
    """Split a ccxt-style symbol into (base, quote).

    ``"BTC/USDT"`` and the perpetual form ``"BTC/USDT:USDT"`` are accepted; symbols are
    upper-cased first.

    Raises:
        DataError: If the symbol is not of the form ``BASE/QUOTE``.
    """
    match = _SYMBOL.match(symbol.strip().upper())
    if match is None:
        raise DataError(f"malformed symbol {symbol!r}; expected BASE/QUOTE such as 'BTC/USDT'")
    return match.group(1), match.group(2)


def symbol_token(symbol: str) -> str:
    """File-name token of a symbol: ``"BTC/USDT"`` -> ``"BTC-USDT"``."""
    base, quote = parse_symbol(symbol)
    return f"{base}-{quote}"


def token_symbol(token: str) -> str:
    """Inverse of :func:`symbol_token`: ``"BTC-USDT"`` -> ``"BTC/USDT"``."""
    match = _TOKEN.match(token.upper())
    if match is None:
        raise DataError(f"malformed symbol token {token!r}; expected BASE-QUOTE")
    return f"{match.group(1)}/{match.group(2)}"


def ohlcv_filename(venue: str, symbol: str, timeframe: str) -> str:
    """Relative path of a candle file in the store: ``ohlcv/BINANCE_BTC-USDT_1h.parquet``."""
    venue_token = venue.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,30}", venue_token):
        raise DataError(f"malformed venue {venue!r}; expected letters and digits like 'BINANCE'")
    return f"ohlcv/{venue_token}_{symbol_token(symbol)}_{timeframe}.parquet"


def funding_filename(venue: str, symbol: str) -> str:
    """Relative path of a funding file: ``funding/<VENUE>_<BASE>-<QUOTE>_funding_rate.parquet``.

    Args:
        venue: Venue token such as ``"BINANCEUSDM"``.
        symbol: ccxt-style symbol.
    """
    return f"funding/{venue.strip().upper()}_{symbol_token(symbol)}_funding_rate.parquet"
