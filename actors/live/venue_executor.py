"""The executor on a real venue (TESTNET, LIVE): the ccxt client behind the guardian.

Same contract towards the guardian as the paper executor (:mod:`actors.live.executor`): each
exchange ``op`` of step ``seq`` submits the requests the guardian approved and answers the
venue's events since the guardian's cursor, and a repeated exchange is answered from a cache.
What differs is where the truth is. A simulated venue is replayed; a real one cannot be, so:

- **State after every exchange.** The client's order book, the book built from its fills and
  the last reply are saved (fsynced) before the reply leaves; a restarted executor continues
  from exactly what the guardian last heard. Creates are made durable before they leave
  (:class:`~actors.live.intent_log.IntentLog`) and looked up by client id after a restart.
- **Events in bar time.** The venue fills a market order the moment it arrives (the next
  bar's open); events carry the open time of their bar, and an exchange commits only those
  up to the bar it runs to (an order submitted at a close is acknowledged at once; its fill is
  committed with the next bar, where the paper client would produce it).
- **Nothing stale, nothing after the end.** An order whose fill would come after the
  session's last bar is recorded REJECTED ``session_end``, one decided on a bar the venue is
  more than ``max_order_lag_bars`` past (catching up after a restart) REJECTED
  ``stale_decision``; neither is sent, and neither counts as a venue reject.
- **Reconciliation that fails closed.** At start and every ``reconcile_s`` the venue's
  balances, open orders and trades are compared with the book
  (:func:`~core.trading.venue_reconcile.reconcile_venue`). A difference halts the executor:
  cancels and queries go on, new orders are refused (REJECTED ``reconcile_mismatch``), the
  differences are written to ``state/reconcile.json`` and the account report says halted,
  which halts the guardian. Under ``reconcile_policy = "adopt"``, or when an operator runs
  ``reconcile --adopt``, the venue's state is adopted into the book first
  (:mod:`core.trading.venue_adopt`: events tagged ``external``); an operator's reconcile
  that ends with no difference lifts the halt, and the guardian trades again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.adapters.ccxt_client_values import VenueView
from actors.adapters.ccxt_errors import ccxt_errors, make_exchange
from actors.adapters.ccxt_execution import CcxtExecutionClient, VenueClientState
from actors.adapters.files import atomic_write_bytes
from actors.live.calls import SequenceError
from actors.live.checkpoint import Checkpoint
from actors.live.executor import HALT_FILE, StepLostError, answer_again
from actors.live.intent_log import IntentLog
from actors.live.liveness import DEFAULT_STUCK_AFTER_S, Progress
from actors.live.logs import actor_log
from actors.live.priority import latency_critical
from actors.live.subscriber import BarSource
from actors.live.venue_spec import VenueExecutionSpec
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from configs.secrets import Secrets
from core.backtest.layout import P_STOP_LOSS, P_TAKE_PROFIT
from core.backtest.params import build_params
from core.errors import UsageError
from core.trading.execution import AccountReport, Exchange, ExecutionEvent
from core.trading.messages import MarketBatch, OrderUpdate, PortfolioSnapshot
from core.trading.orders import RECONCILE_MISMATCH, SESSION_END, STALE_DECISION
from core.trading.portfolio import Portfolio, PortfolioState
from core.trading.replay import ExchangeRequest
from core.trading.venue_adopt import adopt_venue
from core.trading.venue_reconcile import Difference, reconcile_venue

RECONCILE_FILE = "reconcile.json"


@dataclass(frozen=True, slots=True)
class VenueExecutorSnapshot:
    """The venue executor's state after its last answered exchange.

    Attributes:
        step: The step in progress or done (-1 before the first).
        ops: Exchanges of that step answered.
        last: The last exchange and its reply (answered again if asked again).
        client: The ccxt client's state.
        book: The book built from the client's events.
        applied: Number of the last client event applied to ``book``.
        halted: Why new orders are refused ("" while trading).
    """

    step: int
    ops: int
    last: tuple[tuple[ExchangeRequest, Exchange], ...]
    client: VenueClientState
    book: PortfolioState
    applied: int
    halted: str = ""


class VenueClock:
    """The venue's time, read once and run on at the venue's rate.

    Args:
        venue_ms: The venue's answer to a time request.
        speed: Venue ms per wall ms.
    """

    def __init__(self, venue_ms: int, speed: float) -> None:
        self._base, self._speed, self._start = int(venue_ms), float(speed), time.monotonic()

    def now_ms(self) -> int:
        """The venue's time now."""
        return self._base + int((time.monotonic() - self._start) * 1000 * self._speed)


def venue_exchange_client(spec: VenueExecutionSpec, secrets: Secrets) -> Any:
    """A signed ccxt exchange for ``spec`` (keys from ``secrets``, i.e. the environment).

    Raises:
        UsageError: A key is missing.
    """
    key, secret = secrets.exchange_api_key, secrets.exchange_api_secret
    if key is None or secret is None:
        raise UsageError("the executor's environment has no EVOTRADER_EXCHANGE_API_KEY / "
                         "EVOTRADER_EXCHANGE_API_SECRET (start Ray with them set)")
    exchange = make_exchange(spec.exchange_id, api_url=spec.api_url, timeout_ms=spec.timeout_ms,
                             rate_limit=False)
    if spec.sandbox and spec.api_url is None:
        exchange.set_sandbox_mode(True)
    exchange.apiKey, exchange.secret = key.get_secret_value(), secret.get_secret_value()
    return exchange


class VenueExecutorService:
    """The executor on a venue; :data:`~actors.live.shells.VenueExecutor` is its actor.

    Args:
        state_dir: Folder of the session's state.
        backtest: The configuration (initial cash of the book).
        risk: Unused here (the venue sizes nothing); kept for the paper executor's signature.
        symbols: Traded symbols.
        venue: Where and how to trade.
        session_id: The session (salts the venue's client order ids; logs).
        stuck_after_s: A call running longer fails the heartbeat.
        bars: Where published bars arrive.
        timeframe_ms: Bar length.
        exchange: A ccxt exchange (tests); None: built from ``venue`` and the environment.
    """

    def __init__(self, state_dir: str, backtest: BacktestConfig, risk: RiskLimits | None,
                 symbols: Sequence[str], *, venue: VenueExecutionSpec, session_id: str,
                 stuck_after_s: float = DEFAULT_STUCK_AFTER_S, bars: BarSource | None = None,
                 timeframe_ms: int = 60_000, exchange: Any = None) -> None:
        if bars is not None:
            latency_critical()
        self._state_dir, self._venue = state_dir, venue
        self._timeframe_ms = int(timeframe_ms)
        self._lock = threading.RLock()
        self._progress = Progress(stuck_after_s)
        self._log = actor_log(session_id, "executor")
        self._checkpoint = Checkpoint(state_dir, "venue_executor")
        self._intents = IntentLog(state_dir)
        saved: VenueExecutorSnapshot | None = self._checkpoint.load()
        self._bars = bars.subscriber(joined_late=saved is not None) if bars is not None else None
        ex = exchange if exchange is not None else venue_exchange_client(venue, Secrets.from_env())
        with ccxt_errors("fetch_time", exchange=ex):
            self._clock = VenueClock(int(ex.fetch_time()), venue.speed)
        params = build_params(backtest)  # the stop fractions exactly as the backtester's
        self._client = CcxtExecutionClient(
            ex, session_id, symbols, timeframe_ms,
            state=saved.client if saved is not None else None,
            before_send=self._intents.append, clock_ms=self._clock.now_ms,
            default_stops=(float(params[P_STOP_LOSS]), float(params[P_TAKE_PROFIT])))
        self._book = (Portfolio.from_state(saved.book) if saved is not None
                      else Portfolio(symbols, backtest.initial_cash))
        self._applied = saved.applied if saved is not None else 0
        self._step = saved.step if saved is not None else -1
        self._ops = saved.ops if saved is not None else 0
        self._cache: dict[int, tuple[ExchangeRequest, Exchange]] = (
            {self._ops - 1: saved.last[0]} if saved is not None and saved.last else {})
        self._halted = saved.halted if saved is not None else ""
        self._batch: MarketBatch | None = None
        self._final_ts = int(bars.timeline[-1]) if bars is not None and len(bars.timeline) else None
        self._last_reconcile = 0.0
        self._client.start()
        recovered = self._client.recover_intents(self._intents.entries())
        if recovered:
            self._log.warning("creates of the last life looked up by client id",
                              found=[u.status.value for u in recovered])
        self._halt_if(self._halt_record())
        self._reconcile(force=True)
        self._save()
        self._log.info("venue executor started", step=self._step, halted=self._halted or None)

    # --- liveness, bars ------------------------------------------------------------------

    def ping(self) -> str:
        """Heartbeat (fails while a call is stuck)."""
        self._progress.check()
        return "ok"

    def pid(self) -> int:
        """Process id of the actor's worker (for chaos tests)."""
        return os.getpid()

    def seq_done(self) -> int:
        """The last step the executor took part in (-1 before the first)."""
        return self._step

    def bar_counts(self) -> dict[str, int]:
        """What arrived from the feeds."""
        return self._bars.counts() if self._bars is not None else {}

    def on_bars(self, part: Any) -> str:
        """A feed's published slice."""
        assert self._bars is not None
        return self._bars.on_bars(part)

    # --- the exchange --------------------------------------------------------------------

    def exchange(self, seq: int, i0: int, i1: int, op: int, request: ExchangeRequest
                 ) -> Exchange:
        """Exchange ``op`` of step ``seq`` (see the module doc).

        Raises:
            StepLostError: The step is not the one this executor knows (run it again).
            SequenceError: An exchange asked again with other arguments, or out of order.
        """
        with self._lock, self._progress.working(f"step {seq} exchange {op}"):
            if seq == self._step and op in self._cache:
                return answer_again(self._cache, seq, op, request)
            if seq == self._step and op == self._ops:
                pass
            elif seq > self._step and op == 0:
                self._step, self._ops, self._cache, self._batch = seq, 0, {}, None
            elif seq > self._step:
                raise StepLostError(f"executor restarted during step {seq}: run it again")
            else:
                raise SequenceError(f"executor is at step {self._step} exchange {self._ops}; "
                                    f"got step {seq} exchange {op}")
            if self._batch is None:
                assert self._bars is not None, "a venue executor needs its bar subscriber"
                self._batch = self._bars.batch(seq, i0, i1)[0]
            reply = self._apply(self._batch, request)
            self._cache = {op: (request, reply)}
            self._ops = op + 1
            self._save()
            return reply

    def exchange_packed(self, args: tuple[int, int, int, int, ExchangeRequest]) -> Exchange:
        """:meth:`exchange` with its arguments in one tuple (the compiled-graph entry)."""
        return self.exchange(*args)

    def _apply(self, batch: MarketBatch, request: ExchangeRequest) -> Exchange:
        for order in request.submit:
            self._book.announce(order)
        sending = []
        for order in request.submit:
            reason = self._not_sent(order.ts)
            if reason:
                self._client.refuse([order], reason)
            else:
                sending.append(order)
        if sending:
            if self._halted:
                self._client.refuse(sending, self._halted)
            else:
                self._client.submit(sending)
        if self._client.orders.needing_query() or request.submit or \
                self._client.protections.live():
            self._client.poll(trades=True)  # a live protection may have traded
        self._reconcile()
        horizon = int(batch.ts[request.advance_to - batch.start])
        page = self._client.events_since(request.since)
        committed: list[ExecutionEvent] = []
        for event in page.events:
            if event.ts > horizon:
                break
            committed.append(event)
        self._apply_to_book(request.since, committed, batch)
        return Exchange(tuple(committed), request.since + len(committed))

    def _not_sent(self, decision_ts: int) -> str:
        """Why an order decided at the close of bar ``decision_ts`` must not leave.

        Its fill would come after the session's last bar (a simulated venue never fills it:
        it is cancelled at the end), or the venue is already past the bar it was meant for (a
        decision on stale bars, e.g. while catching up after a restart). "" if it may leave.
        """
        tf = self._timeframe_ms
        venue_bar = self._clock.now_ms() // tf * tf
        if self._final_ts is not None and (decision_ts >= self._final_ts
                                           or venue_bar > self._final_ts):
            return SESSION_END
        if venue_bar - (decision_ts + tf) > self._venue.max_order_lag_bars * tf:
            return STALE_DECISION
        return ""

    def _apply_to_book(self, since: int, events: Sequence[ExecutionEvent],
                       batch: MarketBatch) -> None:
        for number, event in enumerate(events, start=since + 1):
            if number <= self._applied:
                continue
            index = batch.start + int(max(0, (batch.ts <= event.ts).sum() - 1))
            self._book.apply(event, index)
            self._applied = number

    # --- reconciliation, halt ------------------------------------------------------------

    def _reconcile(self, force: bool = False, adopt: bool = False
                   ) -> tuple[list[Difference], list[str]]:
        """Compare the venue with the book; adopt or halt (see the module doc).

        Returns:
            The differences left, and what was adopted.
        """
        now = time.monotonic()
        if not force and now - self._last_reconcile < self._venue.reconcile_s:
            return [], []
        self._last_reconcile = now
        self._client.poll(trades=True)
        view, book, differences = self._differences()
        adopted: list[str] = []
        adopting = adopt or self._venue.reconcile_policy == "adopt"
        if adopting and any(d.kind != "missing_open_order" for d in differences):
            adopted = self._adopt(view, book)
            view, book, differences = self._differences()
        if adopted:
            self._record({"adopted": adopted, "differences": [str(d) for d in differences],
                          "by": "reconcile --adopt" if adopt else "reconcile_policy adopt"})
        if differences:
            self._halt_if({"reason": RECONCILE_MISMATCH,
                           "differences": [str(d) for d in differences]})
        return differences, adopted

    def _differences(self) -> tuple[VenueView, Portfolio, list[Difference]]:
        """The venue's view, the book with every client event, and how they differ."""
        view = self._client.venue_view()
        # the venue's side includes fills not yet committed to the guardian: so must the book
        book = Portfolio.from_state(self._book.state)
        for event in self._client.events_since(self._applied).events:
            book.apply(event, book.last_index)
        differences = reconcile_venue(
            cash=book.cash, positions=self._net_positions(book), balances=view.balances,
            rules=[self._client.rules(s) for s in self._client.symbols],
            venue_open=view.open_orders, working=view.working, unseen=view.unseen,
            dust_quote=self._venue.dust_quote, tolerated=view.external_open)
        return view, book, differences

    def _adopt(self, view: VenueView, book: Portfolio) -> list[str]:
        """Book the venue's state as external (:mod:`core.trading.venue_adopt`)."""
        tf = self._timeframe_ms
        ts = max(int(book.last_ts or 0), self._clock.now_ms() // tf * tf - tf)
        ours = {*view.working, *view.external_open}
        adoption = adopt_venue(
            venue=self._venue.exchange_id, ts=ts, cash=book.cash,
            positions=self._net_positions(book), balances=view.balances,
            rules=[self._client.rules(s) for s in self._client.symbols], unseen=view.unseen,
            unknown_open=[o for o in view.open_orders if o not in ours],
            marks={s: self._client.mark_price(s) for s in self._client.symbols},
            dust_quote=self._venue.dust_quote)
        self._client.adopt(adoption)
        self._log.warning("the venue's state adopted into the book (tag external)",
                          adopted=list(adoption.adopted))
        return list(adoption.adopted)

    def _net_positions(self, book: Portfolio) -> dict[str, float]:
        return {s: book.net_quantity(s) for s in self._client.symbols}

    def _record(self, record: dict[str, Any]) -> None:
        atomic_write_bytes(Path(self._state_dir) / RECONCILE_FILE,
                           (json.dumps(record, indent=1) + "\n").encode())

    def reconcile_now(self, adopt: bool = False) -> dict[str, Any]:
        """Reconcile the venue with the book at once (the ``reconcile`` command).

        With ``adopt`` the venue's state is adopted first (see :meth:`_adopt`). When the venue
        and the book agree afterwards, a halt that reconciliation caused is lifted (an
        operator resolved it); a kill switch is not.

        Returns:
            ``{"differences": [text, ...], "adopted": [text, ...], "halted": reason or "",
            "resumed": bool}``.
        """
        with self._lock, self._progress.working("reconcile"):
            differences, adopted = self._reconcile(force=True, adopt=adopt)
            resumed = not differences and self._halted == RECONCILE_MISMATCH
            if resumed:
                self._halted = ""
                self._log.warning("reconciliation resolved by an operator: trading resumes")
                if not adopted:
                    self._record({"resolved": True, "by": "reconcile"})
            self._save()
            return {"differences": [str(d) for d in differences], "adopted": adopted,
                    "halted": self._halted, "resumed": resumed}

    def _halt_record(self) -> dict[str, Any] | None:
        path = Path(self._state_dir) / HALT_FILE
        return dict(json.loads(path.read_text())) if path.exists() else None

    def _halt_if(self, record: dict[str, Any] | None) -> None:
        if record is None or self._halted:
            return
        self._halted = str(record.get("reason", "halted"))
        differences = record.get("differences")
        if differences:
            self._record(record)
            self._log.error("reconciliation failed: no new order until resolved",
                            differences=differences)
        self._client.cancel(None, self._book.last_ts or 0, self._halted)

    def halt(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Kill switch: cancel every working order and refuse new ones for the session."""
        with self._lock:
            if self._halted:
                return []
            path = Path(self._state_dir) / HALT_FILE
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"ts": int(ts), "reason": reason,
                                             "step": self._step, "op": self._ops}))
            temporary.replace(path)
            self._halted = reason
            updates = self._client.cancel(None, ts, reason)
            self._save()
        self._log.warning("halted: working orders cancelled", reason=reason,
                          cancelled=len(updates))
        return updates

    def cancel_all(self, ts: int, reason: str) -> list[OrderUpdate]:
        """Cancel every working order (end of session); later events report them."""
        with self._lock:
            self._client.poll(trades=True)  # what filled up to now is not cancelled
            updates = self._client.cancel(None, ts, reason)
            self._client.poll(trades=True)  # fills that came before the cancel arrived
            self._save()
            return updates

    # --- reports -------------------------------------------------------------------------

    def account(self) -> AccountReport:
        """The book built from the venue's fills, as the guardian's reconciliation reads it."""
        with self._lock:
            book = self._book
            return AccountReport(
                ts=book.last_ts, index=book.last_index, cash=book.cash,
                positions=tuple((p.symbol, p.tag, p.quantity) for p in book.open_positions()),
                working=tuple(book.working), last_event=self._applied,
                halted=bool(self._halted))

    def events_since(self, since: int) -> Any:
        """The client's events after ``since``."""
        with self._lock:
            return self._client.events_since(since)

    def working_orders(self) -> int:
        """Number of working orders on the venue."""
        with self._lock:
            return len(self._client.orders.working())

    def portfolio(self, ts: int) -> PortfolioSnapshot:
        """Cash at the last marks (for status displays)."""
        with self._lock:
            return PortfolioSnapshot(ts, self._book.cash, self._book.cash, 0.0, ())

    def stop(self) -> None:
        """Everything is saved after every exchange: nothing to flush."""

    def _applied_floor(self) -> int:
        """Events above this may still be asked for: the last reply's ``since``."""
        floors = [request.since for request, _ in self._cache.values()]
        return min([self._applied, *floors])

    def _save(self) -> None:
        last = tuple(self._cache.values())
        self._checkpoint.save(VenueExecutorSnapshot(
            self._step, self._ops, last, self._client.state(keep_after=self._applied_floor()),
            self._book.state,
            self._applied, self._halted))
        self._intents.clear()


__all__ = ["RECONCILE_FILE", "RECONCILE_MISMATCH", "VenueClock", "VenueExecutorService",
           "VenueExecutorSnapshot", "venue_exchange_client"]
