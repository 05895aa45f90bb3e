"""The guardian's portfolio, built only from the execution client's events.

:class:`Portfolio` never simulates a fill. It applies what the venue reports, in the venue's
order: fills move cash and FIFO positions (``cash -= quantity * price + fee``, the venue's own
arithmetic, so both books agree to the last bit), funding payments move cash, order updates
track which orders are working, and orders the venue created itself (stop exits,
liquidations) are learned from their announcement. Marks come from the bars: the close for
equity, the high/low for each position's MAE/MFE.

:meth:`Portfolio.reconcile` compares the book with the venue's :class:`AccountReport`; any
difference is a reason to fail closed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.trading.execution import AccountReport, ExecutionEvent
from core.trading.lots import FifoPosition
from core.trading.messages import (
    CashAdjustment,
    Fill,
    FundingPayment,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    PortfolioSnapshot,
    PositionSnapshot,
    Side,
)
from core.trading.orders import WORKING


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """Everything a :class:`Portfolio` needs to resume (a plain, copyable value).

    Attributes:
        symbols: The session's symbols.
        cash: Quote cash.
        positions: Position books sorted by (symbol, tag), flat ones included.
        working: Working orders' requests, in arrival order.
        announced: Requests submitted or announced whose first update has not come yet.
        close: Last close per symbol.
        volume: Last volume per symbol.
        last_ts: Open time of the last marked bar (None before any).
        last_index: Session index of the last marked bar (-1 before any).
        funding_paid: Funding paid so far (negative: received).
    """

    symbols: tuple[str, ...]
    cash: float
    positions: tuple[FifoPosition, ...]
    working: tuple[OrderRequest, ...]
    announced: tuple[OrderRequest, ...]
    close: tuple[float, ...]
    volume: tuple[float, ...]
    last_ts: int | None
    last_index: int
    funding_paid: float = 0.0


class Portfolio:
    """Cash, positions and working orders as the execution events tell them.

    Args:
        symbols: The session's symbols.
        initial_cash: Starting cash (the venue account's).
    """

    def __init__(self, symbols: Sequence[str], initial_cash: float) -> None:
        self.symbols = tuple(symbols)
        self.column = {s: j for j, s in enumerate(self.symbols)}
        self.cash = float(initial_cash)
        self.positions: dict[tuple[str, str], FifoPosition] = {}
        self.working: dict[str, OrderRequest] = {}
        self._announced: dict[str, OrderRequest] = {}
        self.close = np.full(len(self.symbols), np.nan)
        self.volume = np.full(len(self.symbols), np.nan)
        self.last_ts: int | None = None
        self.last_index = -1
        self.funding_paid = 0.0

    # --- state ---------------------------------------------------------------------------

    @property
    def state(self) -> PortfolioState:
        """An independent snapshot."""
        return PortfolioState(self.symbols, self.cash,
                              tuple(p.copy() for p in self.positions.values()),
                              tuple(self.working.values()), tuple(self._announced.values()),
                              tuple(float(c) for c in self.close),
                              tuple(float(v) for v in self.volume), self.last_ts,
                              self.last_index, self.funding_paid)

    @classmethod
    def from_state(cls, state: PortfolioState) -> Portfolio:
        """A portfolio continuing from ``state``."""
        book = cls(state.symbols, state.cash)
        book.positions = {p.key: p.copy() for p in state.positions}
        book.working = {r.client_order_id: r for r in state.working}
        book._announced = {r.client_order_id: r for r in state.announced}
        book.close[:] = state.close
        book.volume[:] = state.volume
        book.last_ts, book.last_index = state.last_ts, state.last_index
        book.funding_paid = state.funding_paid
        return book

    # --- events --------------------------------------------------------------------------

    def announce(self, request: OrderRequest) -> None:
        """A request about to be submitted (its updates will name it by client order id)."""
        self._announced[request.client_order_id] = request

    def request(self, client_order_id: str) -> OrderRequest | None:
        """The request of a working or announced order."""
        return self.working.get(client_order_id) or self._announced.get(client_order_id)

    def apply(self, event: ExecutionEvent, index: int) -> None:
        """Apply one venue event.

        Args:
            event: The event.
            index: Session index of the bar it happened at (fills open positions there).
        """
        if isinstance(event, Fill):
            self._fill(event, index)
        elif isinstance(event, OrderUpdate):
            coid = event.client_order_id
            if event.status in WORKING:
                request = self._announced.pop(coid, None) or self.working.get(coid)
                if request is not None:
                    self.working[coid] = request
            else:
                self.working.pop(coid, None)
                self._announced.pop(coid, None)
        elif isinstance(event, FundingPayment):
            self.cash -= event.amount
            self.funding_paid += event.amount
        elif isinstance(event, CashAdjustment):
            self.cash += event.amount
        elif isinstance(event, OrderRequest):
            self._announced[event.client_order_id] = event

    def _fill(self, fill: Fill, index: int) -> None:
        dq = fill.quantity if fill.side is Side.BUY else -fill.quantity
        key = (fill.symbol, fill.tag)
        position = self.positions.get(key)
        if position is None:
            position = FifoPosition(*key)
            self.positions[key] = position
            self.positions = dict(sorted(self.positions.items()))
        pos = position.quantity
        self.cash -= dq * fill.price + fill.fee
        position.fill(dq, fill.price, fill.fee, fill.ts, index)
        new = position.quantity
        if new != 0.0 and (pos == 0.0 or (pos > 0.0) == (dq > 0.0) or (new > 0.0) != (pos > 0.0)):
            position.strategy_id = fill.strategy_id

    # --- marks ---------------------------------------------------------------------------

    def mark(self, ts: int, index: int, closes: np.ndarray, volumes: np.ndarray,
             lows: np.ndarray, highs: np.ndarray) -> None:
        """Mark at a close (arrays in :attr:`symbols` order).

        ``lows``/``highs`` are the extremes since the previous mark: they update the open
        positions' MAE/MFE.
        """
        self.close[:] = closes
        self.volume[:] = volumes
        for position in self.open_positions():
            j = self.column[position.symbol]
            position.mark_range(float(lows[j]), float(highs[j]))
        self.last_ts, self.last_index = int(ts), int(index)

    # --- queries -------------------------------------------------------------------------

    def open_positions(self) -> list[FifoPosition]:
        """Non-flat positions sorted by (symbol, tag) (read-only use)."""
        return [p for p in self.positions.values() if p.quantity != 0.0]

    def position(self, symbol: str, tag: str = "core") -> FifoPosition | None:
        """The (symbol, tag) book, None if never traded (read-only use)."""
        return self.positions.get((symbol, tag))

    def net_quantity(self, symbol: str) -> float:
        """Signed quantity of ``symbol`` over all tags."""
        return sum(p.quantity for p in self.positions.values() if p.symbol == symbol)

    def equity(self) -> float:
        """Cash plus every position at the last close, summed in (symbol, tag) order."""
        value = self.cash
        for p in self.positions.values():
            if p.quantity != 0.0:
                value = value + p.quantity * self.close[self.column[p.symbol]]
        return value

    def equity_curve(self, closes: np.ndarray) -> np.ndarray:
        """Equity at each row of ``closes`` (rows x symbols) with the book unchanged.

        The same arithmetic, term by term, as :meth:`equity` at each row.
        """
        curve = np.full(closes.shape[0], self.cash)
        for p in self.positions.values():
            if p.quantity != 0.0:
                curve += p.quantity * closes[:, self.column[p.symbol]]
        return curve

    def last_prices(self) -> dict[str, float]:
        """Last close per symbol."""
        return {s: float(self.close[j]) for j, s in enumerate(self.symbols)}

    def snapshot(self, ts: int | None = None) -> PortfolioSnapshot:
        """The book marked at the last closes (``ts`` defaults to the last marked bar)."""
        positions = tuple(p.snapshot(float(self.close[self.column[p.symbol]]))
                          for p in self.open_positions())
        gross = sum(abs(p.quantity * p.last_price) for p in positions)
        when = self.last_ts if ts is None else ts
        return PortfolioSnapshot(int(when or 0), self.cash, self.equity(), gross, positions)

    def exposure(self, pending: Sequence[OrderRequest] = (), ts: int | None = None
                 ) -> PortfolioSnapshot:
        """The book as if every working order and ``pending`` had filled.

        At their reference prices: what pre-trade checks must see (the orders of one bar
        count together).
        """
        book = self.snapshot(ts)
        orders = [*self.working.values(), *pending]
        if not orders:
            return book
        extra: dict[tuple[str, str], float] = {}
        for request in orders:
            signed = request.quantity if request.side is Side.BUY else -request.quantity
            key = (request.symbol, request.tag)
            extra[key] = extra.get(key, 0.0) + signed
        positions = []
        for position in book.positions:
            delta = extra.pop((position.symbol, position.tag), 0.0)
            positions.append(dataclasses.replace(position, quantity=position.quantity + delta))
        for (symbol, tag), delta in sorted(extra.items()):
            last = float(self.close[self.column[symbol]])
            positions.append(PositionSnapshot(symbol, tag, delta, last, last, 0.0, 0.0, 0.0,
                                              0.0, int(book.ts)))
        held = tuple(sorted((p for p in positions if p.quantity != 0.0),
                            key=lambda p: (p.symbol, p.tag)))
        gross = sum(abs(p.quantity * p.last_price) for p in held)
        return PortfolioSnapshot(book.ts, book.cash, book.equity, gross, held)

    def reconcile(self, account: AccountReport) -> list[str]:
        """Differences between this book and the venue's report (empty: they agree)."""
        problems = []
        if account.cash != self.cash:
            problems.append(f"cash: venue {account.cash!r}, portfolio {self.cash!r}")
        mine = tuple((p.symbol, p.tag, p.quantity) for p in self.open_positions())
        if tuple(account.positions) != mine:
            problems.append(f"positions: venue {account.positions}, portfolio {mine}")
        if tuple(account.working) != tuple(self.working):
            problems.append(f"working orders: venue {account.working}, portfolio "
                            f"{tuple(self.working)}")
        return problems


def is_terminal(update: OrderUpdate) -> bool:
    """True for an update that ends its order."""
    return update.status not in WORKING and update.status is not OrderStatus.INITIALIZED
