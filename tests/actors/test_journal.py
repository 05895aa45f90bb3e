"""The write-ahead journal: segments, torn tails, corruption, order, release, versions, types."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

import actors.adapters.journal as journal_module
from actors.adapters.journal import _FRAME, FORMAT, FORMAT_VERSION, Journal, JournalError
from actors.live.checkpoint import CODE_VERSION
from actors.live.codec import RecordCodec
from actors.live.wal_records import StepRecord
from core.trading.messages import Side, TradingState
from tests.actors.live.checkpoint_states import walk_session
from tests.actors.live.codec_types import Frozen


def record(seq: int) -> dict[str, Any]:
    """A small typed record (enums, floats, nesting) for step ``seq``."""
    return {"seq": seq, "side": Side.BUY if seq % 2 else Side.SELL,
            "state": TradingState.ACTIVE, "values": (seq / 3, float("nan"), -0.0),
            "pad": "x" * (seq % 5)}


def same_record(a: Any, b: Any) -> bool:
    codec = RecordCodec()
    return bool(codec.encode(a) == codec.encode(b))


def fill(folder: Path, seqs: range, name: str = "journal") -> Journal:
    journal = Journal(folder, name)
    for seq in seqs:
        journal.append(seq, record(seq))
    journal.close()
    return journal


def segments(folder: Path, name: str = "journal") -> list[str]:
    return sorted(p.name for p in folder.glob(f"{name}-*.wal"))


def frames(path: Path) -> list[tuple[int, int, int]]:
    """``(seq, frame start, frame end)`` of every frame of a segment (the documented layout)."""
    data = path.read_bytes()
    offset, out = data.index(b"\n") + 1, []
    while offset < len(data):
        magic, size, seq, crc = _FRAME.unpack(data[offset:offset + _FRAME.size])
        assert magic == b"EVJ1"
        end = offset + _FRAME.size + size
        assert zlib.crc32(data[offset + _FRAME.size:end]) == crc
        out.append((seq, offset, end))
        offset = end
    return out


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(journal_module, "SEGMENT_RECORDS", 3)
    return 3


def test_records_are_appended_and_read_back_across_segments(tmp_path: Path,
                                                            small_segments: int) -> None:
    journal = Journal(tmp_path)
    assert journal.last_seq is None and list(journal.records()) == []
    for seq in range(8):
        journal.append(seq, record(seq))
        assert journal.last_seq == seq
    assert segments(tmp_path) == ["journal-0000000000.wal", "journal-0000000003.wal",
                                  "journal-0000000006.wal"]
    header = json.loads((tmp_path / "journal-0000000003.wal").read_bytes().partition(b"\n")[0])
    assert header == {"code_version": CODE_VERSION, "first_seq": 3, "format": FORMAT,
                      "format_version": FORMAT_VERSION}
    assert [seq for seq, _, _ in frames(tmp_path / "journal-0000000003.wal")] == [3, 4, 5]
    got = list(journal.records())
    assert [seq for seq, _ in got] == list(range(8))
    assert all(same_record(value, record(seq)) for seq, value in got)
    assert [seq for seq, _ in journal.records(after=4)] == [5, 6, 7]
    assert [seq for seq, _ in journal.records(after=7)] == []
    journal.close()
    # a reopened journal continues where it was: the last segment has room for one more
    again = Journal(tmp_path)
    assert again.last_seq == 7
    again.append(8, record(8))
    again.append(9, record(9))
    assert segments(tmp_path)[-1] == "journal-0000000009.wal"
    assert [seq for seq, _, _ in frames(tmp_path / "journal-0000000006.wal")] == [6, 7, 8]
    assert [seq for seq, _ in Journal(tmp_path).records(after=5)] == [6, 7, 8, 9]


def test_records_decode_to_the_same_typed_objects(tmp_path: Path, shared_data: Path) -> None:
    steps = walk_session(shared_data).steps
    journal = Journal(tmp_path)
    for step in steps:
        journal.append(step.record.seq, step.record)
    back = list(Journal(tmp_path).records())
    assert [seq for seq, _ in back] == [s.record.seq for s in steps]
    for (_, value), step in zip(back, steps, strict=True):
        assert isinstance(value, StepRecord)
        assert value.requests == step.record.requests
        assert value.replies == step.record.replies
        assert value.signals == step.record.signals and value.diary == step.record.diary
        assert value.prev_tail == step.record.prev_tail
        assert value.has_tail == step.record.has_tail
        assert same_record(value, step.record)


def test_journals_of_other_names_do_not_mix(tmp_path: Path) -> None:
    fill(tmp_path, range(3), "journal")
    fill(tmp_path, range(5, 7), "other")
    assert [seq for seq, _ in Journal(tmp_path).records()] == [0, 1, 2]
    assert [seq for seq, _ in Journal(tmp_path, "other").records()] == [5, 6]


@pytest.mark.parametrize("cut", [1, _FRAME.size - 1, _FRAME.size + 2, "crc"])
def test_a_torn_tail_is_dropped_and_truncated_before_the_next_append(tmp_path: Path,
                                                                   cut: int | str) -> None:
    fill(tmp_path, range(4))
    path = tmp_path / "journal-0000000000.wal"
    good = path.read_bytes()
    _, start, end = frames(path)[-1]
    if cut == "crc":  # the whole frame is there but its last bytes were never written
        torn = good[:end - 1] + bytes([good[end - 1] ^ 0xFF])
    else:
        assert isinstance(cut, int)
        torn = good[:start + cut]
    path.write_bytes(torn)
    journal = Journal(tmp_path)
    assert journal.last_seq == 2  # record 3 was never acknowledged
    assert [seq for seq, _ in journal.records()] == [0, 1, 2]
    journal.append(3, record(30))
    assert path.read_bytes()[:start] == good[:start]
    assert [seq for seq, _, _ in frames(path)] == [0, 1, 2, 3]  # no torn bytes left inside
    got = dict(Journal(tmp_path).records())
    assert same_record(got[3], record(30)) and same_record(got[2], record(2))


def test_garbage_after_the_last_frame_is_a_torn_tail(tmp_path: Path) -> None:
    fill(tmp_path, range(2))
    path = tmp_path / "journal-0000000000.wal"
    good = path.read_bytes()
    path.write_bytes(good + b"EVJ1\x05")
    journal = Journal(tmp_path)
    assert journal.last_seq == 1
    journal.append(2, record(2))
    assert [seq for seq, _, _ in frames(path)] == [0, 1, 2]


def test_a_torn_first_frame_of_a_new_segment_keeps_the_previous_last_seq(
        tmp_path: Path, small_segments: int) -> None:
    fill(tmp_path, range(4))
    path = tmp_path / "journal-0000000003.wal"
    _, start, _ = frames(path)[0]
    path.write_bytes(path.read_bytes()[:start + 3])
    journal = Journal(tmp_path)
    assert journal.last_seq == 2
    journal.append(3, record(3))
    assert [seq for seq, _ in Journal(tmp_path).records()] == [0, 1, 2, 3]


def test_an_empty_new_segment_left_by_a_crash_is_a_torn_tail(tmp_path: Path,
                                                             small_segments: int) -> None:
    fill(tmp_path, range(3))
    (tmp_path / "journal-0000000003.wal").write_bytes(b"")  # created, nothing written yet
    journal = Journal(tmp_path)
    assert journal.last_seq == 2
    journal.append(3, record(3))
    assert [seq for seq, _ in Journal(tmp_path).records()] == [0, 1, 2, 3]


def test_corruption_in_a_middle_segment_is_refused(tmp_path: Path, small_segments: int) -> None:
    fill(tmp_path, range(8))
    middle = tmp_path / "journal-0000000003.wal"
    good = middle.read_bytes()
    _, start, end = frames(middle)[1]
    flipped = bytearray(good)
    flipped[(start + _FRAME.size + end) // 2] ^= 0x01
    middle.write_bytes(bytes(flipped))
    journal = Journal(tmp_path)  # the end of the journal is intact
    assert journal.last_seq == 7
    with pytest.raises(JournalError, match=r"journal-0000000003\.wal is corrupt at byte "
                                           f"{start}"):
        list(journal.records())
    assert [seq for seq, _ in journal.records(after=5)] == [6, 7]  # not read: not refused
    middle.write_bytes(good[:end - 2])  # torn inside a segment that is not the last
    with pytest.raises(JournalError, match="corrupt"):
        list(Journal(tmp_path).records())


def test_a_damaged_frame_followed_by_good_ones_in_the_last_segment_is_refused(
        tmp_path: Path) -> None:
    fill(tmp_path, range(4))
    path = tmp_path / "journal-0000000000.wal"
    _, start, end = frames(path)[1]
    data = bytearray(path.read_bytes())
    data[(start + _FRAME.size + end) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="corrupt"):
        journal = Journal(tmp_path)
        list(journal.records())


def test_appends_out_of_order_are_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(5, record(5))
    for seq in (5, 4, -1):
        with pytest.raises(JournalError, match=f"journal record {seq} after 5: out of order"):
            journal.append(seq, record(seq))
    journal.append(7, record(7))  # a gap is allowed (the guardian's steps may skip)
    journal.close()
    with pytest.raises(JournalError, match="out of order"):
        Journal(tmp_path).append(7, record(7))
    assert [seq for seq, _ in Journal(tmp_path).records()] == [5, 7]


def test_release_deletes_only_segments_wholly_before_the_seq(tmp_path: Path,
                                                              small_segments: int) -> None:
    fill(tmp_path, range(10))  # segments 0, 3, 6, 9
    journal = Journal(tmp_path)
    assert journal.release(2) == 0  # segment 0 holds record 2
    assert journal.release(3) == 1
    assert journal.release(5) == 0
    assert segments(tmp_path) == ["journal-0000000003.wal", "journal-0000000006.wal",
                                  "journal-0000000009.wal"]
    assert [seq for seq, _ in journal.records()] == list(range(3, 10))
    assert [seq for seq, _ in journal.records(after=7)] == [8, 9]
    assert journal.release(1_000) == 2  # the last segment is always kept
    assert segments(tmp_path) == ["journal-0000000009.wal"]
    journal.append(10, record(10))
    assert [seq for seq, _ in Journal(tmp_path).records()] == [9, 10]
    assert Journal(tmp_path).last_seq == 10


def test_a_newer_format_is_refused_naming_the_version(tmp_path: Path) -> None:
    fill(tmp_path, range(2))
    path = tmp_path / "journal-0000000000.wal"
    header, _, rest = path.read_bytes().partition(b"\n")
    newer = {**json.loads(header), "format_version": FORMAT_VERSION + 1, "code_version": "9.9.9"}
    path.write_bytes(json.dumps(newer).encode() + b"\n" + rest)
    with pytest.raises(JournalError) as info:
        Journal(tmp_path)
    message = str(info.value)
    assert f"format version {FORMAT_VERSION + 1}" in message and "9.9.9" in message
    assert f"reads up to {FORMAT_VERSION}" in message and str(path) in message
    path.write_bytes(b"hello\nworld")
    with pytest.raises(JournalError, match="not an evotrader-journal segment"):
        Journal(tmp_path)


def test_a_record_of_an_unknown_type_is_refused_naming_its_seq(tmp_path: Path) -> None:
    writer = Journal(tmp_path, codec=RecordCodec((*RecordCodec().packages, "tests")))
    writer.append(0, record(0))
    writer.append(1, Frozen(1, "a", (2.0,)))
    writer.close()
    assert [v for _, v in Journal(tmp_path, codec=writer.codec).records()][1] == Frozen(
        1, "a", (2.0,))
    reader = Journal(tmp_path)
    assert reader.last_seq == 1
    records = reader.records()
    assert next(records)[0] == 0
    with pytest.raises(JournalError, match=r"record 1: .*outside the packages"):
        next(records)
