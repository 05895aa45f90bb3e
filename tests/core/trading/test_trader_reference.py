"""The shared multi-symbol PaperBook agrees with an independent plain-Python reference.

``reference_book.ReferenceBook`` is written from the documented semantics only. Several
symbols (and tags) share one cash; the two must agree on the equity at every close (1e-9
relative) and on every fill, over random markets (hypothesis) and real BTC/ETH 1h windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs.backtest import BacktestConfig
from core.backtest import MarketArrays
from core.strategies import get_strategy
from core.trading.book import PaperBook
from core.trading.messages import Fill, Signal
from tests.core.data.helpers import load_shared
from tests.core.trading.reference_book import ReferenceBook, RefFill, RefResult, RefSignal
from tests.core.trading.sim_helpers import (
    BTC,
    ETH,
    HOUR,
    load_perpetual,
    random_market,
    run_book,
    window,
)

TOL = 1e-9
SOL = "SOL/USDT"


def to_signals(refs: Sequence[RefSignal], ts: np.ndarray) -> list[Signal]:
    return [Signal(r.strategy, r.symbol, int(ts[r.bar]), r.target, tag=r.tag) for r in refs]


def reference_of(config: BacktestConfig, market: MarketArrays, refs: Sequence[RefSignal]
                 ) -> RefResult:
    arrays = {"open": np.asarray(market.open), "close": np.asarray(market.close)}
    if market.funding is not None:
        arrays["funding"] = np.asarray(market.funding)
    return ReferenceBook(config, market.symbols).run(arrays, refs)


def assert_agree(book_equity: np.ndarray, fills: Sequence[Fill], ref: RefResult,
                 ts: np.ndarray, scale: float) -> None:
    np.testing.assert_allclose(book_equity, ref.equity, rtol=TOL, atol=TOL * scale)
    assert len(fills) == len(ref.fills)
    bars = np.searchsorted(ts, [f.ts for f in fills]).tolist()
    for bar, fill, want in zip(bars, fills, ref.fills, strict=True):
        got = RefFill(bar, fill.symbol, fill.tag, fill.side.value, fill.quantity, fill.price,
                      fill.fee, fill.reason)
        assert (got.bar, got.symbol, got.tag, got.side, got.reason) == (
            want.bar, want.symbol, want.tag, want.side, want.reason)
        np.testing.assert_allclose([got.quantity, got.price, got.fee],
                                   [want.quantity, want.price, want.fee], rtol=TOL,
                                   atol=TOL * 1e-6)


def sleeve_signals(targets: dict[tuple[str, str, str], np.ndarray]) -> list[RefSignal]:
    """One signal per target change of each (strategy, symbol, tag), bar by bar."""
    refs = []
    for (strategy, symbol, tag), values in targets.items():
        last = np.nan
        for bar, value in enumerate(values):
            if value == value and value != last:
                refs.append(RefSignal(bar, strategy, symbol, float(value), tag))
                last = value
    return sorted(refs, key=lambda r: r.bar)  # stable: sleeve order within a bar


configs = st.builds(
    dict,
    initial_cash=st.sampled_from([1_000.0, 10_000.0]),
    direction=st.sampled_from(["long_only", "long_short"]),
    costs=st.builds(dict, taker_fee_bps=st.sampled_from([0.0, 10.0, 40.0]),
                    half_spread_bps=st.sampled_from([0.0, 5.0, 30.0])),
    sizing=st.builds(dict, fraction=st.sampled_from([0.2, 0.5, 1.0])),
    min_notional=st.sampled_from([0.0, 25.0]),
    lot_size=st.sampled_from([0.0, 0.01, 0.5]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(2, 120), k=st.integers(1, 3),
       swing=st.booleans(), config=configs, density=st.sampled_from([0.05, 0.3, 1.0]),
       funding=st.booleans(), vol=st.sampled_from([0.02, 0.08]),
       cuts=st.lists(st.integers(1, 50), max_size=5), previews=st.booleans())
def test_random_shared_books_agree_with_the_reference(
        seed: int, n: int, k: int, swing: bool, config: dict, density: float, funding: bool,
        vol: float, cuts: list[int], previews: bool) -> None:
    cfg = BacktestConfig(**config)
    symbols = (BTC, ETH, SOL)[:k]
    market = random_market(seed, n, symbols, funding=funding, vol=vol)
    rng = np.random.default_rng(seed + 7)
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 0.5, 1.0])
    sleeves = [(s, "core") for s in symbols] + ([(symbols[0], "swing")] if swing else [])
    targets = {(f"{s}-{t}", s, t): np.where(rng.random(n) < density, rng.choice(levels, n),
                                            np.nan) for s, t in sleeves}
    refs = sleeve_signals(targets)
    ref = reference_of(cfg, market, refs)
    book = PaperBook(cfg, symbols, HOUR)
    book.link.previews = previews
    equity, fills, _ = run_book(book, market, to_signals(refs, market.timestamp), cuts or None)
    assert_agree(equity, fills, ref, market.timestamp, cfg.initial_cash)
    assert book.client.cash == pytest.approx(ref.cash, rel=TOL, abs=TOL * cfg.initial_cash)
    paid = book.portfolio.funding_paid
    assert paid == pytest.approx(ref.funding, rel=TOL, abs=TOL * cfg.initial_cash)


def test_ruin_liquidates_every_symbol_of_the_shared_book() -> None:
    n = 60
    market = random_market(21, n, (BTC, ETH), vol=0.12)
    targets = {("a", BTC, "core"): np.r_[-1.0, np.full(n - 1, np.nan)],
               ("b", ETH, "core"): np.r_[-1.0, np.full(n - 1, np.nan)],
               ("c", ETH, "swing"): np.r_[np.nan, 1.0, np.full(n - 2, np.nan)]}
    cfg = BacktestConfig(direction="long_short", min_notional=0.0,
                         sizing={"fraction": 1.0})
    refs = sleeve_signals(targets)
    ref = reference_of(cfg, market, refs)
    equity, fills, outcomes = run_book(PaperBook(cfg, (BTC, ETH), HOUR), market,
                                       to_signals(refs, market.timestamp), 7)
    assert_agree(equity, fills, ref, market.timestamp, cfg.initial_cash)
    assert {f.reason for f in fills} == {"signal", "liquidation"}
    assert [e.kind for o in outcomes for e in o.risk_events] == ["liquidation"]


@pytest.fixture(scope="module")
def real(shared_data: Path) -> dict[str, tuple[MarketArrays, list]]:
    spot = [load_shared(shared_data, f"BINANCE_{s}-USDT_1h") for s in ("BTC", "ETH")]
    perpetual = [load_perpetual(shared_data, token) for token in ("BTC-USDT", "ETH-USDT")]
    out = {}
    for name, candles in (("spot", spot), ("perpetual", perpetual)):
        full = MarketArrays.from_candles(candles)
        market = window(full, full.n_bars - 5_000, full.n_bars)
        rows = [np.searchsorted(c.timestamp, market.timestamp) for c in candles]

        def targets(strategy: str, j: int, c: list = candles, r: list = rows) -> np.ndarray:
            spec = get_strategy(strategy)
            (values,) = spec.compute([c[j]], spec.params_model(allow_short=True))
            return values[r[j]]

        out[name] = (market, sleeve_signals({
            ("m", market.symbols[0], "core"): targets("momentum", 0),
            ("r", market.symbols[1], "core"): targets("mean_reversion", 1),
            ("m", market.symbols[1], "swing"): targets("momentum", 1)}))
    return out


@pytest.mark.parametrize(("kind", "size"), [("spot", None), ("spot", 500),
                                            ("perpetual", 97)])
def test_real_btc_eth_books_agree_with_the_reference(real: dict, kind: str,
                                                     size: int | None) -> None:
    market, refs = real[kind]
    cfg = BacktestConfig(direction="long_short", sizing={"fraction": 0.3}, lot_size=1e-5)
    ref = reference_of(cfg, market, refs)
    book = PaperBook(cfg, market.symbols, HOUR)
    equity, fills, outcomes = run_book(book, market, to_signals(refs, market.timestamp), size)
    assert_agree(equity, fills, ref, market.timestamp, cfg.initial_cash)
    assert len(fills) > 300 and len({(f.symbol, f.tag) for f in fills}) == 3
    if kind == "perpetual":
        assert sum(len(o.funding) for o in outcomes) > 1_000
        assert book.portfolio.funding_paid == pytest.approx(ref.funding, rel=TOL, abs=1e-6)
