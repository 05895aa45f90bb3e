"""The replayed market: stored candles per symbol seen through the venue clock.

A bar is *closed* once venue time reaches its close (open + timeframe); the *forming* bar is
the first bar not yet closed — its open is the venue's current price, and a market order
fills there. ``klines`` serves closed bars only (the forming one can be served on request,
as real Binance does, for clients that must drop it themselves). The order book is
synthetic: levels at odd multiples of the half-spread around the current price, each as
large as a fixed share of the last closed bar's volume, so it is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from actors.emulator.params import fmt
from core.data.candles import Candles
from core.data.naming import parse_symbol


@dataclass(frozen=True)
class Series:
    """One symbol's bars as plain arrays.

    Attributes:
        symbol: ccxt symbol, e.g. ``"BTC/USDT"``.
        market_id: Binance id, e.g. ``"BTCUSDT"``.
        base: Base asset.
        quote: Quote asset.
        ts: Open times, ms.
        open: Opens.
        high: Highs.
        low: Lows.
        close: Closes.
        volume: Volumes (base asset).
    """

    symbol: str
    market_id: str
    base: str
    quote: str
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


class Market:
    """Candles of every listed symbol at one timeframe.

    Args:
        candles: Bars per ccxt symbol (one timeframe for all).
        timeframe: The timeframe string served as the kline interval, e.g. ``"1m"``.
        timeframe_ms: Its length in ms.

    Raises:
        ValueError: With no symbols.
    """

    def __init__(self, candles: Mapping[str, Candles], timeframe: str, timeframe_ms: int
                 ) -> None:
        if not candles:
            raise ValueError("the emulator needs at least one symbol")
        self.timeframe, self.tf_ms = timeframe, int(timeframe_ms)
        self.series: dict[str, Series] = {}
        for symbol, bars in candles.items():
            base, quote = parse_symbol(symbol)
            self.series[base + quote] = Series(
                f"{base}/{quote}", base + quote, base, quote,
                *(np.asarray(getattr(bars, name)) for name in
                  ("timestamp", "open", "high", "low", "close", "volume")))

    def get(self, market_id: str) -> Series | None:
        """The series of a Binance market id, None if not listed."""
        return self.series.get(market_id)

    def by_symbol(self, symbol: str) -> Series:
        """The series of a ccxt symbol.

        Raises:
            KeyError: If the symbol is not listed.
        """
        base, quote = parse_symbol(symbol)
        return self.series[base + quote]

    def assets(self) -> list[str]:
        """Every base and quote asset, sorted."""
        return sorted({a for s in self.series.values() for a in (s.base, s.quote)})

    def first_open_ms(self) -> int:
        """The earliest bar open of any symbol (0 when no symbol has bars)."""
        opens = [int(s.ts[0]) for s in self.series.values() if len(s)]
        return min(opens) if opens else 0

    def default_start_ms(self, warmup_bars: int) -> int:
        """A start leaving ``warmup_bars`` closed bars of history on every symbol (if it can)."""
        starts = [int(s.ts[min(warmup_bars, len(s) - 1)]) for s in self.series.values()
                  if len(s)]
        return max(starts) if starts else 0

    def closed_count(self, series: Series, now_ms: int) -> int:
        """How many bars of ``series`` are closed at ``now_ms`` (= the forming bar's index)."""
        return int(np.searchsorted(series.ts, now_ms - self.tf_ms, "right"))

    def current_price(self, series: Series, now_ms: int) -> float | None:
        """The forming bar's open, else the last close; None without bars."""
        k = self.closed_count(series, now_ms)
        if k < len(series):
            return float(series.open[k])
        return float(series.close[-1]) if len(series) else None

    def reference_volume(self, series: Series, now_ms: int) -> float:
        """Volume of the last closed bar (0 before the first close)."""
        k = self.closed_count(series, now_ms)
        return float(series.volume[k - 1]) if k > 0 else 0.0

    def klines(self, series: Series, now_ms: int, start: int | None, end: int | None,
               limit: int, serve_forming: bool = False) -> list[list[object]]:
        """Binance's 12-field kline rows of the closed bars in ``[start, end]`` (open times).

        Without ``start`` the newest ``limit`` bars up to ``end`` are served, as Binance does.
        """
        hi = self.closed_count(series, now_ms)
        if serve_forming and hi < len(series) and series.ts[hi] <= now_ms:
            hi += 1
        if end is not None:
            hi = min(hi, int(np.searchsorted(series.ts, end, "right")))
        if start is not None:
            lo = int(np.searchsorted(series.ts, start, "left"))
            hi = min(hi, lo + limit)
        else:
            lo = max(0, hi - limit)
        step = self.tf_ms
        rows: list[list[object]] = []
        for i in range(lo, max(lo, hi)):
            o, h, low, c, v = (float(series.open[i]), float(series.high[i]),
                               float(series.low[i]), float(series.close[i]),
                               float(series.volume[i]))
            quote_volume = v * (o + h + low + c) / 4.0
            rows.append([int(series.ts[i]), fmt(o), fmt(h), fmt(low), fmt(c), fmt(v),
                         int(series.ts[i]) + step - 1, fmt(quote_volume),
                         max(1, int(v * 10)), fmt(v / 2), fmt(quote_volume / 2), "0"])
        return rows

    def depth(self, series: Series, now_ms: int, levels: int, half_spread: float,
              tick: Decimal, step: Decimal, level_share: float
              ) -> tuple[list[list[str]], list[list[str]]]:
        """A synthetic book: ``levels`` bids and asks around the current price.

        Level k (1-based) sits at ``price * (1 -/+ half_spread * (2k - 1))`` rounded to the
        tick (bids down, asks up; repeated prices merged); each holds ``level_share`` of the
        last closed bar's volume (at least one lot step).
        """
        price = self.current_price(series, now_ms)
        if price is None or levels <= 0:
            return [], []
        volume = self.reference_volume(series, now_ms)
        size = max(Decimal(repr(volume * level_share)).quantize(step, ROUND_FLOOR)
                   if step > 0 else Decimal(repr(volume * level_share)), step)
        spread = max(half_spread, 1e-6)
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        for k in range(1, levels + 1):
            offset = spread * (2 * k - 1)
            bid = _to_tick(price * (1.0 - offset), tick, ROUND_FLOOR)
            ask = _to_tick(price * (1.0 + offset), tick, ROUND_CEILING)
            if bid > 0:
                bids[bid] = bids.get(bid, Decimal(0)) + size
            asks[ask] = asks.get(ask, Decimal(0)) + size
        return ([[_dec(p), _dec(q)] for p, q in sorted(bids.items(), reverse=True)],
                [[_dec(p), _dec(q)] for p, q in sorted(asks.items())])


def _to_tick(value: float, tick: Decimal, rounding: str) -> Decimal:
    if not math.isfinite(value):
        return Decimal(0)
    units = (Decimal(repr(value)) / tick).to_integral_value(rounding)
    return units * tick


def _dec(value: Decimal) -> str:
    return fmt(float(value))
