"""Concurrent clients and clock moves: the books stay consistent."""

from __future__ import annotations

import threading

import pytest

from actors.emulator import EmulatorServer
from tests.actors.emulator.support import START, connect


def test_concurrent_orders_and_clock_moves(make_emulator) -> None:
    # 10 s before a bar closes; the clock moves while requests are in flight
    emulator: EmulatorServer = make_emulator(balances={"USDT": 1_000_000.0},
                                             start_ms=START + 50_000)
    clients = [connect(emulator) for _ in range(4)]
    errors: list[BaseException] = []

    def trade(index: int) -> None:
        try:
            for n in range(10):
                kind, price = ("market", None) if n % 2 else ("limit", 90_000.0 + n)
                clients[index].create_order("BTC/USDT", kind, "buy", 0.001, price,
                                            params={"newClientOrderId": f"c{index}-{n}",
                                                    "recvWindow": 60_000})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trade, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(5):
        emulator.clock.advance_ms(3000)
    for thread in threads:
        thread.join()
    assert errors == []
    orders = emulator.ledger.orders("BTC/USDT")
    assert sorted(o.order_id for o in orders) == list(range(1, 41))
    assert {o.client_order_id for o in orders} == {f"c{i}-{n}" for i in range(4)
                                                   for n in range(10)}
    trades = emulator.ledger.trades()
    assert sorted(t.id for t in trades) == list(range(1, len(trades) + 1))
    free, locked = emulator.ledger.balances()["USDT"]
    spent = sum(t.qty * t.price + t.commission for t in trades)
    reserved = sum(o.remaining * o.price * 1.001 for o in orders if o.is_open)
    assert free + locked == pytest.approx(1_000_000.0 - spent)
    assert locked == pytest.approx(reserved)
    assert emulator.ledger.balances()["BTC"][0] == pytest.approx(sum(t.qty for t in trades))
    assert all(r.status == 200 for r in emulator.requests("/api/v3/order"))
