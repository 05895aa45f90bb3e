"""FIFO lots: realised PnL golden values, average cost vs FIFO average, MAE/MFE, copies."""

from __future__ import annotations

import copy
import pickle

import pytest

from core.trading.lots import FifoPosition, Lot


def test_fifo_long_then_flip_golden_values() -> None:
    pos = FifoPosition("BTC/USDT", "core")
    assert pos.fill(1.0, 100.0, 0.1, ts=1, index=1) == 0.0
    assert pos.fill(2.0, 110.0, 0.2, ts=2, index=2) == 0.0
    assert pos.lots == [Lot(1.0, 100.0, 1), Lot(2.0, 110.0, 2)]
    assert pos.avg_price == pytest.approx(320.0 / 3.0)
    # sell 2 @ 120: the oldest lot (1 @ 100) first, then 1 of the 110 lot: 20 + 10
    assert pos.fill(-2.0, 120.0, 0.3, ts=3, index=3) == pytest.approx(30.0)
    assert pos.lots == [Lot(1.0, 110.0, 2)]
    assert pos.avg_price == 110.0
    # the backtester's average cost does not move on a reduction (stops hang on it)
    assert pos.entry_avg == pytest.approx((100.0 + 220.0) / 3.0)
    # sell 2 @ 90: closes 1 @ 110 (-20) and opens a 1 @ 90 short
    assert pos.fill(-2.0, 90.0, 0.4, ts=4, index=4) == pytest.approx(-20.0)
    assert pos.quantity == pytest.approx(-1.0)
    assert pos.lots == [Lot(pytest.approx(1.0), 90.0, 4)]
    assert (pos.entry_avg, pos.opened_ts, pos.entry_index) == (90.0, 4, 4)
    assert pos.realized == pytest.approx(10.0)
    assert pos.fees == pytest.approx(1.0)
    assert pos.realized_pnl == pytest.approx(9.0)


def test_fifo_short_golden_values() -> None:
    pos = FifoPosition("ETH/USDT", "swing")
    pos.fill(-2.0, 50.0, 0.0, ts=1, index=0)
    pos.fill(-1.0, 40.0, 0.0, ts=2, index=1)
    # buy 2.5 @ 45: 2 of the 50 lot (+5 each) and 0.5 of the 40 lot (-5 each)
    assert pos.fill(2.5, 45.0, 0.0, ts=3, index=2) == pytest.approx(7.5)
    assert pos.quantity == pytest.approx(-0.5)
    assert pos.lots == [Lot(pytest.approx(0.5), 40.0, 2)]
    assert pos.unrealized(30.0) == pytest.approx(5.0)
    pos.fill(0.5, 30.0, 0.0, ts=4, index=3)
    assert pos.quantity == 0.0 and pos.lots == [] and pos.realized == pytest.approx(12.5)


def test_tiny_residue_snaps_flat_like_the_backtester() -> None:
    pos = FifoPosition("X", "core")
    pos.fill(0.1, 10.0, 0.0, 1, 0)
    pos.fill(0.2, 10.0, 0.0, 2, 1)
    pos.fill(-0.3, 11.0, 0.0, 3, 2)  # 0.1 + 0.2 - 0.3 = 5.5e-17 in floating point
    assert pos.quantity == 0.0 and pos.lots == []


def test_mae_mfe_golden_values_long() -> None:
    pos = FifoPosition("BTC/USDT", "core")
    pos.fill(2.0, 100.0, 0.0, 1, 0)
    pos.mark_range(95.0, 110.0)
    assert (pos.mae, pos.mfe) == (-10.0, 20.0)
    pos.mark_range(97.0, 105.0)  # inside the range seen: nothing changes
    assert (pos.mae, pos.mfe) == (-10.0, 20.0)
    pos.mark_range(90.0, 104.0)
    assert (pos.mae, pos.mfe) == (-20.0, 20.0)
    pos.fill(2.0, 90.0, 0.0, 2, 1)  # adding keeps the excursions; avg now 95 on 4
    pos.mark_range(93.0, 99.0)  # -8 / +16: not beyond what was seen
    assert (pos.mae, pos.mfe) == (-20.0, 20.0)
    pos.mark_range(80.0, 101.0)  # 4 * (80 - 95) = -60, 4 * (101 - 95) = 24
    assert (pos.mae, pos.mfe) == (-60.0, 24.0)
    snap = pos.snapshot(96.0)
    assert (snap.mae, snap.mfe, snap.quantity, snap.avg_price) == (-60.0, 24.0, 4.0, 95.0)
    assert snap.unrealized_pnl == 4.0
    pos.fill(-4.0, 96.0, 0.0, 3, 2)
    assert (pos.mae, pos.mfe) == (0.0, 0.0)  # flat resets


def test_mae_mfe_golden_values_short_and_flip_resets() -> None:
    pos = FifoPosition("BTC/USDT", "core")
    pos.fill(-1.0, 100.0, 0.0, 1, 0)
    pos.mark_range(90.0, 104.0)
    assert (pos.mae, pos.mfe) == (-4.0, 10.0)
    pos.fill(3.0, 100.0, 0.0, 2, 1)  # flip to +2 @ 100: excursions start over
    assert (pos.mae, pos.mfe) == (0.0, 0.0)
    pos.mark_range(99.0, 100.5)
    assert (pos.mae, pos.mfe) == (-2.0, 1.0)
    assert pos.mae <= 0.0 <= pos.mfe


def test_stop_levels_from_average_cost() -> None:
    pos = FifoPosition("BTC/USDT", "core")
    pos.fill(-2.0, 100.0, 0.0, 1, 0)
    pos.stop_loss, pos.take_profit = 0.02, 0.05
    assert pos.stop_levels() == (100.0 * (1.0 + 0.02), 100.0 * (1.0 - 0.05))


def test_copy_and_pickle_are_independent() -> None:
    pos = FifoPosition("BTC/USDT", "core")
    pos.fill(1.0, 100.0, 0.5, 1, 0)
    pos.mark_range(90.0, 120.0)
    for other in (pos.copy(), copy.deepcopy(pos), pickle.loads(pickle.dumps(pos))):
        assert [getattr(other, n) for n in pos.__slots__] == \
            [getattr(pos, n) for n in pos.__slots__]
        other.fill(1.0, 50.0, 0.0, 2, 1)
        assert pos.quantity == 1.0 and pos.lots == [Lot(1.0, 100.0, 1)]
