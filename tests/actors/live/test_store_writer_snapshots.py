"""Off-path durability: the Snapshotter (background snapshots), marks, and the StoreWriter.

The StoreWriter's peer is the store actor; here a small in-process directory stands in for
Ray and forwards its ``append_many`` calls to a real :class:`SessionStore` file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actors.adapters.session_store import BatchRecords, SessionStore
from actors.live.checkpoint import Checkpoint, CheckpointError
from actors.live.records import live_records
from actors.live.snapshots import Snapshotter, read_mark, write_mark
from actors.live.store_writer import StoreWriter
from core.trading.slot import SlotOutput
from tests.actors.live.checkpoint_states import diary_of, walk_session

WAIT_S = 30.0
LONG_S = min(3_600.0, time.monotonic() / 2)
"""A long snapshot interval (a fresh boot's short uptime is covered below)."""


class Written:
    """``on_written`` / ``on_error`` hooks: what the thread did, with events to await."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()

    def written(self, seq: int) -> None:
        with self._cond:
            self.seqs.append(seq)
            self.times.append(time.monotonic())
            self._cond.notify_all()

    def error(self, exc: BaseException) -> None:
        with self._cond:
            self.errors.append(exc)
            self._cond.notify_all()

    def wait(self, until: Callable[[], bool]) -> None:
        with self._cond:
            assert self._cond.wait_for(until, timeout=WAIT_S), "the writer thread did not act"


def snapshotter(checkpoint: Checkpoint, log: Written, interval_s: float = 0.0,
                before_write: Callable[[int], None] | None = None) -> Snapshotter:
    return Snapshotter(checkpoint, interval_s, before_write=before_write,
                       on_written=log.written, on_error=log.error)


def test_the_latest_offered_state_wins(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "guardian"), Written()
    entered, release = threading.Event(), threading.Event()
    hooked: list[int] = []

    def before_write(seq: int) -> None:
        hooked.append(seq)
        entered.set()
        assert release.wait(WAIT_S)

    snaps = snapshotter(checkpoint, log, before_write=before_write)
    snaps.offer(0, {"seq": 0})
    assert entered.wait(WAIT_S)  # the thread is writing state 0
    for seq in (1, 2, 3):
        snaps.offer(seq, {"seq": seq})
    release.set()
    snaps.flush()
    assert checkpoint.load() == {"seq": 3}
    assert hooked == [0, 3] and log.seqs == [0, 3] and snaps.written_seq == 3
    snaps.close()


def test_writes_are_spaced_by_the_interval_and_flush_writes_now(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "executor"), Written()
    snaps = snapshotter(checkpoint, log, interval_s=0.3)
    snaps.offer(0, {"seq": 0})
    log.wait(lambda: log.seqs == [0])
    snaps.offer(1, {"seq": 1})
    log.wait(lambda: log.seqs == [0, 1])
    assert log.times[1] - log.times[0] >= 0.29
    slow = snapshotter(Checkpoint(tmp_path, "candidate-a"), Written(), interval_s=LONG_S)
    slow.offer(5, {"seq": 5})
    slow.flush()
    assert slow.written_seq == 5
    slow.offer(6, {"seq": 6})  # long before the next timed write
    started = time.monotonic()
    slow.flush()
    assert time.monotonic() - started < 5.0
    assert Checkpoint(tmp_path, "candidate-a").load() == {"seq": 6}
    snaps.close()
    slow.close()


def test_flush_writes_now_whatever_the_clock_reads(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "guardian")
    snaps = snapshotter(checkpoint, Written(), interval_s=time.monotonic() + 3_600.0)
    snaps.offer(0, {"seq": 0})
    snaps.flush(timeout_s=2.0)
    assert checkpoint.load() == {"seq": 0}


def test_before_write_runs_before_the_file_is_written(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "guardian"), Written()
    seen: list[tuple[int, Any]] = []
    snaps = snapshotter(checkpoint, log,
                        before_write=lambda seq: seen.append((seq, checkpoint.load())))
    snaps.offer(0, {"seq": 0})
    snaps.flush()
    snaps.offer(1, {"seq": 1})
    snaps.flush()
    assert seen == [(0, None), (1, {"seq": 0})]
    assert checkpoint.load() == {"seq": 1}
    snaps.close()


def test_a_failed_hook_skips_the_write_reports_and_retries(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "guardian"), Written()
    failures = [TimeoutError("store did not confirm step 0")]

    def before_write(seq: int) -> None:
        if failures:
            assert checkpoint.load() is None
            raise failures.pop()

    snaps = snapshotter(checkpoint, log, before_write=before_write)
    snaps.offer(0, {"seq": 0})
    snaps.flush()  # waits through the failure and the retry
    assert [type(e) for e in log.errors] == [TimeoutError]
    assert log.seqs == [0] and checkpoint.load() == {"seq": 0}
    snaps.close()


def test_a_failed_write_is_reported_and_retried_until_it_succeeds(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    checkpoint, log = Checkpoint(blocker, "executor"), Written()
    snaps = snapshotter(checkpoint, log)
    snaps.offer(4, {"seq": 4})
    log.wait(lambda: len(log.errors) >= 1)
    assert isinstance(log.errors[0], OSError) and log.seqs == []
    blocker.unlink()  # the disk is usable again: the same state is written
    log.wait(lambda: log.seqs == [4])
    assert checkpoint.load() == {"seq": 4}
    snaps.close()


def test_an_unencodable_state_is_reported_and_a_newer_offer_replaces_it(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "guardian"), Written()
    snaps = snapshotter(checkpoint, log)
    snaps.offer(0, {"seq": 0, "bad": object()})
    log.wait(lambda: len(log.errors) >= 1)
    assert isinstance(log.errors[0], CheckpointError)
    snaps.offer(1, {"seq": 1})
    snaps.flush()
    assert checkpoint.load() == {"seq": 1} and log.seqs == [1]
    snaps.close()


def test_close_writes_what_is_offered_and_ends_the_thread(tmp_path: Path) -> None:
    checkpoint, log = Checkpoint(tmp_path, "candidate-b"), Written()
    before = set(threading.enumerate())
    snaps = snapshotter(checkpoint, log, interval_s=LONG_S)
    (thread,) = [t for t in threading.enumerate() if t not in before]
    assert thread.name == "snapshot-candidate-b" and thread.daemon
    snaps.offer(9, {"seq": 9})
    snaps.close()
    assert checkpoint.load() == {"seq": 9}
    thread.join(WAIT_S)
    assert not thread.is_alive()


def test_marks_record_the_last_durable_snapshot_per_owner(tmp_path: Path) -> None:
    assert read_mark(tmp_path, "guardian") == -1
    write_mark(tmp_path, "guardian", 5)
    write_mark(tmp_path, "executor", 3)
    assert (read_mark(tmp_path, "guardian"), read_mark(tmp_path, "executor")) == (5, 3)
    write_mark(tmp_path, "guardian", 7)
    assert read_mark(tmp_path, "guardian") == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["executor.mark", "guardian.mark"]
    (tmp_path / "executor.mark").write_text("garbage")
    assert read_mark(tmp_path, "executor") == -1
    assert read_mark(tmp_path / "missing", "guardian") == -1


# --- the store writer ------------------------------------------------------------------------


class StoreDirectory:
    """Stands in for the Ray directory: ``call(store, method, *args)`` on a real store."""

    def __init__(self, store: SessionStore, failures: int = 0) -> None:
        self.store, self.failures = store, failures
        self.calls: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self._cond = threading.Condition()

    def call(self, name: str, method: str, *args: Any) -> Any:
        assert (name, method) == ("store", "append_many")
        self.entered.set()
        assert self.gate.wait(WAIT_S)
        with self._cond:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("store actor restarting")
            self.calls.append([seq for seq, _ in args[0]])
            self._cond.notify_all()
        return getattr(self.store, method)(*args)

    def wait_calls(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, timeout=WAIT_S)


@pytest.fixture
def records(shared_data: Path) -> list[tuple[int, BatchRecords]]:
    steps = walk_session(shared_data).steps
    return [(step.record.seq, live_records(step.outcome, step.batch.ts,
                                           SlotOutput(list(step.signals),
                                                      list(diary_of(step.signals)), []),
                                           step.events)) for step in steps]


def test_store_writer_batches_records_in_order_and_confirms(tmp_path: Path, records: list[
        tuple[int, BatchRecords]]) -> None:
    with SessionStore(tmp_path / "session.sqlite") as store:
        directory = StoreDirectory(store)
        writer = StoreWriter(directory, "store", interval_s=3_600.0, max_batches=3)  # type: ignore[arg-type]
        for seq, batch in records[:2]:
            writer.put(seq, [batch])
        seq, batch = records[2]
        writer.put(seq, [batch])  # the third record sends at once
        directory.wait_calls(1)
        assert directory.calls == [[0, 1, 2]]
        for seq, batch in records[3:]:
            writer.put(seq, [batch])
        writer.confirm(records[-1][0])  # does not wait for the hour
        assert writer.confirmed == records[-1][0]
        assert directory.calls == [[0, 1, 2], [seq for seq, _ in records[3:]]]
        assert store.last_seq("live") == records[-1][0]
        assert len(store.fills()) == sum(len(b.fills) for _, b in records)


def test_store_writer_retries_a_failed_send(tmp_path: Path,
                                            records: list[tuple[int, BatchRecords]]) -> None:
    errors: list[BaseException] = []
    with SessionStore(tmp_path / "session.sqlite") as store:
        directory = StoreDirectory(store, failures=2)
        writer = StoreWriter(directory, "store", interval_s=0.02,  # type: ignore[arg-type]
                             on_error=errors.append)
        for seq, batch in records:
            writer.put(seq, [batch])
        writer.flush()
        assert [type(e) for e in errors] == [ConnectionError, ConnectionError]
        assert store.last_seq("live") == records[-1][0]
        assert len(store.fills()) == sum(len(b.fills) for _, b in records)
        directory.failures = 10**6  # the store never comes back
        writer.put(99, [BatchRecords(book="live")])
        with pytest.raises(TimeoutError, match="store did not confirm step 99"):
            writer.confirm(99, timeout_s=0.3)
        assert writer.confirmed == records[-1][0]
        directory.failures = 0  # back: the writer drains and goes idle
        writer.flush()
        assert writer.confirmed == 99 and directory.calls[-1] == [99]


def test_a_snapshot_never_covers_a_step_the_store_has_not(tmp_path: Path, records: list[
        tuple[int, BatchRecords]]) -> None:
    """The guardian's wiring: the snapshotter's ``before_write`` is the writer's confirm."""
    with SessionStore(tmp_path / "session.sqlite") as store:
        directory = StoreDirectory(store)
        directory.gate.clear()  # the store is slow
        writer = StoreWriter(directory, "store", interval_s=0.05)  # type: ignore[arg-type]
        checkpoint, log = Checkpoint(tmp_path, "guardian"), Written()
        snaps = snapshotter(checkpoint, log, before_write=writer.confirm)
        seq, batch = records[0]
        writer.put(seq, [batch])
        snaps.offer(seq, {"seq": seq})
        assert directory.entered.wait(WAIT_S)
        assert checkpoint.load() is None and store.last_seq("live") == -1
        directory.gate.set()
        snaps.flush()
        assert store.last_seq("live") == seq and checkpoint.load() == {"seq": seq}
        snaps.close()
