"""The actors' services in process (no Ray): snapshots + journal bring them back exactly.

An :class:`ExecutorService` runs here with ``bars=None`` (``exchange_batch``) or with an
in-process :class:`BarSource` whose slices the test pushes (``exchange``: the path a restarted
executor replays the journal on). The guardian's side is its step loop without Ray: the trader
over a link to the executor service, the journal record appended before the step's last
exchange (``_JournalOnLast``), and its recovery (``GuardianService._recover``): snapshot,
then the journal's records replayed through a :class:`ReplayLink`, the last unanswered
exchange sent again to the executor.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from actors.adapters.journal import Journal
from actors.live.candidate import CandidateService, CandidateSnapshot
from actors.live.checkpoint import Checkpoint, CheckpointError
from actors.live.codec import RecordCodec
from actors.live.executor import HALT_FILE, ExecutorService, SequenceError, StepLostError
from actors.live.guardian import GuardianSnapshot
from actors.live.guardian_journal import replay_link, tail_reply
from actors.live.snapshots import read_mark
from actors.live.subscriber import BarSource
from actors.live.wal_records import StepRecord
from core.trading.choice import StrategyChoice
from core.trading.execution import Exchange
from core.trading.messages import OrderRequest
from core.trading.paper import PaperClient
from core.trading.replay import ExchangeRequest, RecordingLink, without_preview
from core.trading.trader import StepOutcome, Trader
from tests.actors.live.checkpoint_states import (
    BTC,
    CONFIG,
    GUARDIAN,
    LIMITS,
    VENUE,
    JournalOnLast,
    KeepReplies,
    Session,
    Step,
    diary_of,
    guardian_step,
    new_candidate_book,
    new_trader,
    restored_trader,
    walk_session,
)

CODEC = RecordCodec()


def encoded(value: object) -> bytes:
    return CODEC.encode(value)


def executor(state_dir: Path, session: Session | None = None) -> ExecutorService:
    """The executor's service; with ``session``, subscribed to an in-process bar source."""
    bars = None if session is None else BarSource(
        ("feed-btc",), (BTC,), "checkpoint-tests", session.timeline, VENUE,
        session.market.timeframe_ms)
    return ExecutorService(str(state_dir), CONFIG, LIMITS, [BTC], bars=bars, snapshot_s=0.0)


def push(service: ExecutorService, steps: Sequence[Step]) -> None:
    """The feed publishes the steps' slices."""
    for step in steps:
        assert service.on_bars(step.part) in ("accepted", "gap")


class ServiceLink:
    """The guardian's :class:`ExecutorLink`, calling the service in process."""

    previews = True

    def __init__(self, service: ExecutorService, step: StepRecord | Step, by_bars: bool,
                 first_op: int = 0, before: Callable[[int, int], None] | None = None) -> None:
        record = step if isinstance(step, StepRecord) else step.record
        self.service, self.seq, self.i0, self.i1 = service, record.seq, record.i0, record.i1
        self.batch = None if by_bars or isinstance(step, StepRecord) else step.batch
        self.op, self.before = first_op, before

    def exchange(self, since: int, sync_to: int, submit: Sequence[OrderRequest],
                 advance_to: int, preview_to: int, last: bool = False) -> Exchange:
        request = ExchangeRequest(since, sync_to, tuple(submit), advance_to, preview_to)
        op = self.op
        self.op += 1
        if self.before is not None:
            self.before(self.seq, op)
        if self.batch is not None:
            return self.service.exchange_batch(self.seq, self.batch, op, request)
        return self.service.exchange(self.seq, self.i0, self.i1, op, request)


class Guardian:
    """``GuardianService.process_step`` without Ray: trader, journal, link to the executor."""

    def __init__(self, trader: Trader, journal: Journal, saved: GuardianSnapshot | None = None
                 ) -> None:
        self.trader, self.journal = trader, journal
        self.seq_done = saved.seq_done if saved is not None else -1
        self.tail = saved.tail if saved is not None else None
        self.requests: list[ExchangeRequest] = []
        self.sent: list[Exchange] = []

    @classmethod
    def restored(cls, saved: GuardianSnapshot, journal: Journal, timeframe_ms: int
                 ) -> Guardian:
        """``GuardianService.__init__`` on a folder with a snapshot."""
        return cls(restored_trader(saved, timeframe_ms), journal, saved)

    def step(self, service: ExecutorService, step: Step, by_bars: bool = False,
             before: Callable[[int, int], None] | None = None
             ) -> tuple[StepOutcome, StepRecord]:
        self.sent = []
        link = RecordingLink(KeepReplies(ServiceLink(service, step, by_bars, before=before),
                                         self.sent))
        writer = JournalOnLast(step.record.seq, step.record.i0, step.record.i1, step.signals,
                               diary_of(step.signals), link, self.tail)

        def before_send(request: ExchangeRequest, last: bool) -> None:
            writer(request, last)
            if last:
                assert writer.record is not None
                self.journal.append(writer.record.seq, writer.record)

        link.before_send = before_send
        outcome, _ = guardian_step(self.trader, step.batch, step.signals, link)
        record = writer.finish()
        if not record.has_tail:
            self.journal.append(record.seq, record)
        self.tail, self.seq_done = writer.tail_reply(), record.seq
        self.requests = list(link.requests)
        return outcome, record

    def recover(self, service: ExecutorService, steps: Sequence[Step]) -> None:
        """``GuardianService._recover``: replay the journal after the restored snapshot."""
        records = [r for _, r in self.journal.records(after=self.seq_done)]
        for k, record in enumerate(records):
            link = replay_link(records, k, lambda r, op: ServiceLink(service, r, by_bars=True,
                                                                     first_op=op))
            guardian_step(self.trader, steps[record.seq].batch, list(record.signals), link,
                          record.stopped, record.kill_switch)
            assert link.finished()
            self.tail = tail_reply(record, link)
            self.seq_done = record.seq


def copy_journal(source: Path, target: Path) -> None:
    for path in source.glob("journal-*.wal"):
        shutil.copy(path, target / path.name)


def run(guardian: Guardian, service: ExecutorService, steps: Sequence[Step],
        by_bars: bool = False) -> None:
    """Steps as the live guardian runs them; the journal and outcomes are the session's."""
    for step in steps:
        outcome, record = guardian.step(service, step, by_bars)
        assert outcome.fills == step.outcome.fills
        np.testing.assert_array_equal(outcome.equity, step.outcome.equity)
        assert encoded(record) == encoded(step.record)
        assert guardian.sent == step.replies


@pytest.fixture(scope="module")
def session(shared_data: Path) -> Session:
    session = walk_session(shared_data)
    assert [s.record.has_tail for s in session.steps][:3] == [True, False, True]
    return session


def test_the_executor_answers_as_the_paper_client_and_snapshots_what_it_would(
        tmp_path: Path, session: Session) -> None:
    steps = session.steps
    service = executor(tmp_path)
    guardian = Guardian(new_trader(session.market.timeframe_ms), Journal(tmp_path))
    run(guardian, service, steps)
    last = steps[-1]
    assert service.seq_done() == last.record.seq
    account = service.account()
    assert account == PaperClient.from_state(last.client).account()
    # a retried exchange is answered from the cache: same reply, no doubled order
    for op, request in enumerate(last.requests):
        assert service.exchange_batch(last.record.seq, last.batch, op, request) == \
            last.replies[op]
    assert service.account() == account and service.events_since(account.last_event).events == ()
    with pytest.raises(SequenceError, match="asked again with other arguments"):
        service.exchange_batch(last.record.seq, last.batch, 0, last.requests[-1])
    with pytest.raises(SequenceError, match=f"executor is at step {last.record.seq}"):
        service.exchange_batch(last.record.seq + 2, last.batch, 0, last.requests[0])
    with pytest.raises(StepLostError):
        service.exchange_batch(last.record.seq + 1, last.batch, 1, last.requests[0])
    service.stop()
    snapshot = Checkpoint(tmp_path, "executor").load()
    assert encoded(snapshot) == encoded(steps[-2].executor)  # offered when the last began
    assert read_mark(tmp_path, "executor") == steps[-2].record.seq
    assert [seq for seq, _ in Journal(tmp_path).records()] == [s.record.seq for s in steps]


def _two_steps_then_executor_snapshot(tmp_path: Path, steps: Sequence[Step], tf: int
                                      ) -> tuple[Path, Path, Guardian, ExecutorService]:
    """Steps 0-1 in ``first``; ``restarted`` gets the executor's snapshot of step 0 (offered
    when step 1 began)."""
    first, second = tmp_path / "first", tmp_path / "restarted"
    second.mkdir()
    service = executor(first)
    guardian = Guardian(new_trader(tf), Journal(first))
    run(guardian, service, steps[:2])
    service.stop()
    shutil.copy(first / "executor.ckpt", second / "executor.ckpt")
    return first, second, guardian, service


def test_executor_and_guardian_restart_from_snapshots_and_journal_and_trade_on(
        tmp_path: Path, session: Session) -> None:
    steps, tf = session.steps, session.market.timeframe_ms
    first, second, guardian, service = _two_steps_then_executor_snapshot(tmp_path, steps, tf)
    Checkpoint(second, "guardian").save(steps[0].guardian)
    run(guardian, service, steps[2:3])  # journaled, then its last exchange sent: a crash here
    copy_journal(first, second)
    run(guardian, service, steps[3:])  # what the original goes on to do

    restarted = executor(second, session)
    assert restarted.seq_done() == 0
    push(restarted, steps[1:])
    again = Guardian.restored(Checkpoint(second, "guardian").load(), Journal(second), tf)
    # records 1 and 2 replayed; record 2's last exchange has no reply in the journal: it is
    # sent again, and the restarted executor (which replayed the journal) answers it
    again.recover(restarted, steps)
    assert restarted.seq_done() == 2
    assert restarted.account() == PaperClient.from_state(steps[2].client).account()
    assert again.seq_done == 2
    assert again.tail == steps[3].record.prev_tail == without_preview(steps[2].replies[-1])
    assert encoded(again.trader.state) == encoded(steps[2].trader)
    assert again.trader.gate.to_state() == steps[2].risk  # type: ignore[attr-defined]
    run(again, restarted, steps[3:], by_bars=True)
    assert restarted.account() == service.account()
    assert encoded(again.trader.state) == encoded(guardian.trader.state)
    service.stop()
    restarted.stop()
    assert (second / "executor.ckpt").read_bytes() == (first / "executor.ckpt").read_bytes()
    for path in first.glob("journal-*.wal"):  # the restarted guardian journaled the same
        assert (second / path.name).read_bytes() == path.read_bytes()


def test_a_step_the_guardian_had_not_journaled_is_run_again_from_its_start(
        tmp_path: Path, session: Session) -> None:
    steps, tf = session.steps, session.market.timeframe_ms
    service = executor(tmp_path)
    guardian = Guardian(new_trader(tf), Journal(tmp_path))
    run(guardian, service, steps[:2])
    lost = steps[2]
    for op in range(2):  # the executor dies in step 2, before the guardian journaled it
        assert service.exchange_batch(2, lost.batch, op, lost.requests[op]) == lost.replies[op]
    service.stop()
    restarted = executor(tmp_path, session)
    push(restarted, steps[2:])
    with pytest.raises(StepLostError, match="step 2"):
        restarted.exchange(2, lost.record.i0, lost.record.i1, 2, lost.requests[2])
    with pytest.raises(SequenceError, match="executor is at step 1"):
        restarted.exchange(4, steps[4].record.i0, steps[4].record.i1, 0, steps[4].requests[0])
    again = Guardian.restored(steps[1].guardian, Journal(tmp_path), tf)
    run(again, restarted, steps[2:], by_bars=True)
    assert restarted.account() == PaperClient.from_state(steps[-1].client).account()


@pytest.mark.parametrize("at", [(2, 2), (4, 0)], ids=["within_a_step", "between_steps"])
def test_a_halt_is_applied_at_the_same_point_when_the_journal_is_replayed(
        tmp_path: Path, session: Session, at: tuple[int, int]) -> None:
    steps, tf = session.steps, session.market.timeframe_ms
    # no order is working at either point (the next test covers that case)
    assert PaperClient.from_state(steps[3].client).account().working == ()
    first, second, guardian, service = _two_steps_then_executor_snapshot(tmp_path, steps, tf)
    cancelled = []

    def kill_switch(seq: int, op: int) -> None:
        if (seq, op) == at:
            ts = guardian.trader.portfolio.last_ts
            assert ts is not None
            cancelled.extend(service.halt(ts, "kill_switch:test"))

    for step in steps[2:5]:
        guardian.step(service, step, before=kill_switch)
    assert service.account().halted and cancelled == []
    recorded = json.loads((first / HALT_FILE).read_text())
    assert (recorded["step"], recorded["op"]) == (at if at[1] else (3, len(steps[3].requests)))
    copy_journal(first, second)
    shutil.copy(first / HALT_FILE, second / HALT_FILE)
    original, unhalted = service.account(), PaperClient.from_state(steps[4].client).account()
    assert (original.cash, original.positions) != (unhalted.cash, unhalted.positions)

    restarted = executor(second, session)
    push(restarted, steps[1:])
    guardian.step(service, steps[5])  # the next step, on both executors
    for op, request in enumerate(guardian.requests):
        assert restarted.exchange(5, steps[5].record.i0, steps[5].record.i1, op, request) == \
            guardian.sent[op]
    assert restarted.account() == service.account()
    assert restarted.account().halted
    service.stop()
    restarted.stop()
    assert (second / "executor.ckpt").read_bytes() == (first / "executor.ckpt").read_bytes()


def test_a_kill_switch_between_steps_with_working_orders_lets_the_guardian_go_on(
        tmp_path: Path, session: Session) -> None:
    steps = session.steps
    assert PaperClient.from_state(steps[2].client).account().working  # sent at its last bar
    service = executor(tmp_path)
    guardian = Guardian(new_trader(session.market.timeframe_ms), Journal(tmp_path))
    run(guardian, service, steps[:3])
    ts = guardian.trader.portfolio.last_ts
    assert ts is not None
    assert service.halt(ts, "kill_switch:test")  # the guardian's kill switch: orders cancelled
    outcome, _ = guardian.step(service, steps[3])
    assert any(u.status.value == "CANCELED" for u in outcome.order_updates)
    assert guardian.trader.portfolio.reconcile(service.account()) == []


def test_a_kill_switch_on_a_restarted_executor_halts_it_after_the_journaled_steps(
        tmp_path: Path, session: Session) -> None:
    steps, tf = session.steps, session.market.timeframe_ms
    first, second, guardian, service = _two_steps_then_executor_snapshot(tmp_path, steps, tf)
    run(guardian, service, steps[2:5])
    copy_journal(first, second)
    restarted = executor(second, session)  # the executor died after step 4 and came back
    push(restarted, steps[1:])
    ts = int(steps[4].batch.ts[-1])
    service.halt(ts, "kill_switch:test")
    restarted.halt(ts, "kill_switch:test")  # the guardian's kill switch reaches the new one
    restarted.cancel_all(ts, "session_end")  # any call that replays the journal
    service.cancel_all(ts, "session_end")
    assert restarted.account() == service.account()


# --- candidates ------------------------------------------------------------------------------

CHOICE = StrategyChoice("mom", strategy="momentum", params=(("allow_short", True),))


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Exceptions that escape the threads a test starts (collected, not printed)."""
    caught: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook",
                        lambda args: caught.append(args.exc_value))
    before = set(threading.enumerate())
    yield caught
    for thread in set(threading.enumerate()) - before:
        if thread.name == "candidate-trading":
            thread.join(2.0)


def candidate(state_dir: Path, session: Session) -> CandidateService:
    return CandidateService("mom", CHOICE, str(state_dir), CONFIG, LIMITS, GUARDIAN, [BTC],
                            ["feed-btc"], "checkpoint-tests", session.timeline, VENUE,
                            session.market.timeframe_ms, store="", bars=None, snapshot_s=0.0)


def test_a_candidate_trades_its_own_book_as_a_paper_book_with_its_risk_engine(
        tmp_path: Path, session: Session, thread_errors: list[BaseException]) -> None:
    service = candidate(tmp_path, session)
    assert service.status().seq_done == -1
    book = new_candidate_book(session.market.timeframe_ms)
    fills = 0
    for step in session.steps:
        output = service.on_batch(step.record.seq, step.batch)
        assert not output.errors
        fills += len(book.step(step.batch, output.signals).fills)
        status = service.status()
        assert status.seq_done == step.record.seq
        assert status.equity == book.portfolio.equity()
    assert fills > 0
    service.stop()


def test_a_candidate_restarts_from_its_snapshot(tmp_path: Path, session: Session,
                                                thread_errors: list[BaseException]) -> None:
    saved = session.steps[2]
    Checkpoint(tmp_path, "candidate-mom").save(saved.candidate)
    service = candidate(tmp_path, session)
    status = service.status()
    assert status.seq_done == 2
    assert status.equity == saved.candidate_outcome.portfolio.equity
    book = new_candidate_book(session.market.timeframe_ms)
    book.restore(saved.candidate.book)
    assert status.equity == book.portfolio.equity()
    newer = Checkpoint(tmp_path / "newer", "candidate-mom", schema_version=3)
    newer.save(CandidateSnapshot(2, saved.candidate.book, saved.candidate.risk))
    with pytest.raises(CheckpointError, match="candidate schema version 3"):
        candidate(tmp_path / "newer", session)


def test_an_in_process_candidate_starts_no_failing_thread(
        tmp_path: Path, session: Session, thread_errors: list[BaseException]) -> None:
    before = set(threading.enumerate())
    service = candidate(tmp_path, session)
    for thread in set(threading.enumerate()) - before:
        if thread.name == "candidate-trading":
            thread.join(2.0)
    assert thread_errors == []
    service.ping()
