"""The paper client's market: its working orders and positions matched against bars.

:class:`BarMatcher` runs the venue's part of the event order of :mod:`core.trading.paper`
over rows of a batch: funding, fills at the open, intrabar stops, the close, ruin. Quiet
stretches (no working order, no stop hit, no funding, no ruin) are processed with numpy, and
each look-ahead scans at most :data:`SCAN_ROWS` rows, so a batch costs time linear in its
length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from core.trading.messages import FundingPayment, MarketBatch

if TYPE_CHECKING:
    from core.trading.paper import PaperClient

SCAN_ROWS = 4096
"""Most rows one look-ahead for the next stop or funding bar scans."""


class BarMatcher:
    """One :meth:`PaperClient.advance`: rows ``[a, b)`` of a batch, in client column order.

    Args:
        client: The paper client (its book is changed in place).
        batch: The bars.
        a: First row to process.
        b: Row after the last one.
    """

    def __init__(self, client: PaperClient, batch: MarketBatch, a: int, b: int) -> None:
        if sorted(batch.symbols) != sorted(client.symbols):
            raise ValueError(f"batch symbols {batch.symbols} differ from the client's "
                             f"{client.symbols}")
        self.client, self.a, self.b, self.start = client, a, b, int(batch.start)
        self.ts = np.asarray(batch.ts, dtype=np.int64)
        order = [batch.symbols.index(s) for s in client.symbols]
        pick = slice(None) if order == sorted(order) else order
        arrays = [batch.open, batch.high, batch.low, batch.close, batch.volume]
        if batch.funding is not None:
            arrays.append(batch.funding)
        columns = [np.asarray(x, dtype=np.float64)[:, pick] for x in arrays]
        self.open, self.high, self.low, self.close, self.volume = columns[:5]
        self.funding = columns[5] if batch.funding is not None else None
        self.funding_rows = (
            [np.flatnonzero(self.funding[:, j] != 0.0) for j in range(len(client.symbols))]
            if self.funding is not None else None)

    def run(self) -> None:
        """Process the rows (the client's book and events change in place)."""
        client = self.client
        i = self.a
        while i < self.b:
            if not client._working:
                end = self._quiet_end(i)
                if end > i:
                    i = self._quiet(i, end)
                    continue
            self._bar(i)
            i += 1

    def _quiet_end(self, i: int) -> int:
        """First bar in ``[i, b]`` needing the bar-by-bar path (stop, funding).

        At most :data:`SCAN_ROWS` rows are scanned: a long quiet stretch is then done in
        several pieces, and the cost of a batch stays linear in its length.
        """
        client, end = self.client, min(self.b, i + SCAN_ROWS)
        for position in client.open_positions():
            j = client._column[position.symbol]
            if self.funding_rows is not None:
                rows = self.funding_rows[j]
                k = int(np.searchsorted(rows, i))
                if k < rows.shape[0]:
                    end = min(end, int(rows[k]))
            if end <= i or (position.stop_loss <= 0.0 and position.take_profit <= 0.0):
                continue
            sl, tp = position.stop_levels()
            lo, hi = self.low[i:end, j], self.high[i:end, j]
            long = position.quantity > 0.0
            hit = np.zeros(end - i, dtype=np.bool_)
            if position.stop_loss > 0.0:
                hit |= (lo <= sl) if long else (hi >= sl)
            if position.take_profit > 0.0:
                hit |= (hi >= tp) if long else (lo <= tp)
            first = int(hit.argmax())
            if hit[first]:
                end = i + first
        return end

    def _quiet(self, i: int, end: int) -> int:
        """Bars ``[i, end)`` with numpy; stops before a ruin bar. Returns the next bar."""
        client = self.client
        positions = client.open_positions()
        if positions and client.allow_short:
            segment = np.full(end - i, client.cash)
            for position in positions:
                segment += position.quantity * self.close[i:end, client._column[position.symbol]]
            ruin = segment <= 0.0
            first = int(ruin.argmax())
            if ruin[first]:
                if first == 0:
                    return self._bar(i)
                end = i + first
        last = end - 1
        client._close[:] = self.close[last]
        client._volume[:] = self.volume[last]
        client.last_ts, client.last_index = int(self.ts[last]), self.start + last
        return end

    def _bar(self, i: int) -> int:
        client = self.client
        ts, index = int(self.ts[i]), self.start + i
        opens = self.open[i]
        if self.funding is not None:
            rates = self.funding[i]
            for position in client.open_positions():
                rate = float(rates[client._column[position.symbol]])
                if rate != 0.0:
                    price = float(opens[client._column[position.symbol]])
                    amount = position.quantity * price * rate
                    client._cash -= amount
                    client._emit(FundingPayment(position.symbol, position.tag, ts,
                                                position.quantity, price, rate, amount))
        for oid in list(client._working):
            request = client._working[oid].request
            client._fill_market(oid, float(opens[client._column[request.symbol]]), ts, index)
        self._stops(i, ts, index)
        client._close[:] = self.close[i]
        client._volume[:] = self.volume[i]
        client.last_ts, client.last_index = ts, index
        positions = client.open_positions()
        if positions and client.allow_short and client.equity() <= 0.0:
            for position in positions:
                client._venue_order(position, ts, "liquidation")
        return i + 1

    def _stops(self, i: int, ts: int, index: int) -> None:
        client = self.client
        for position in client.open_positions():
            if position.stop_loss <= 0.0 and position.take_profit <= 0.0:
                continue
            j = client._column[position.symbol]
            client._scratch[0] = self.open[i, j]
            hit = position.stop_exit(client._scratch, float(self.high[i, j]),
                                     float(self.low[i, j]), float(client._volume[j]),
                                     client._p)
            if hit is None:
                continue
            kind, price, fee, slip_cost = hit
            request = client._venue_order(position, ts, kind)
            client._book(request.client_order_id, -position.quantity, price, fee, slip_cost,
                         "maker" if kind == "take_profit" else "taker", ts, index)
