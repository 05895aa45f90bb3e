"""The write-ahead journal: one typed record per session step, appended and fsynced once.

The risk guardian appends the record of a step before the step's last order submission
leaves for the executor (what the step decided and every venue reply it was built on); the
guardian and the executor rebuild their state after any crash from their last snapshot plus
the records after it. Snapshots are written off the acknowledgement path; the journal is the
only fsync on it.

Files: ``<folder>/journal-<first seq:010d>.wal``, segments of at most
:data:`SEGMENT_RECORDS` records. A segment starts with one header line (JSON: format,
version, code version, first seq) and then holds frames::

    b"EVJ1" | payload length (u32 LE) | seq (u64 LE) | crc32 of payload (u32 LE) | payload

where the payload is the record encoded by :class:`~actors.live.codec.RecordCodec` (typed
JSON, never a pickle). A frame cut short by a crash at the end of the last segment was never
acknowledged: it is dropped on open (and truncated away before the next append). A damaged
frame anywhere else (or followed by more data) is corruption and refused. A last segment
whose header never reached the disk holds nothing acknowledged and is removed. Segments
wholly before a seq that every consumer has snapshotted can be deleted
(:meth:`Journal.release`).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.live.checkpoint import CODE_VERSION
from actors.live.codec import CheckpointError, RecordCodec

FORMAT = "evotrader-journal"
FORMAT_VERSION = 1
SEGMENT_RECORDS = 4096
"""Records per segment file."""
_MAGIC = b"EVJ1"
_FRAME = struct.Struct("<4sIQI")


class JournalError(CheckpointError):
    """The journal cannot be read or written (corrupt frame, newer format, I/O failure)."""


@dataclass(frozen=True, slots=True)
class _Segment:
    path: Path
    first: int


def _torn_header(path: Path) -> bool:
    """True when the segment's header line never reached the disk in full.

    That is a crash right after the file was created. A complete line that is not a header
    is not torn: it is a foreign or damaged file, refused when read.
    """
    with path.open("rb") as handle:
        line = handle.readline()
    return not line.endswith(b"\n")


class Journal:
    """Append-only step records of one session.

    Args:
        folder: The session's state folder.
        name: Journal name (file prefix).
        codec: Record codec.

    Raises:
        JournalError: A segment is corrupt or written by a newer format.
    """

    def __init__(self, folder: str | Path, name: str = "journal",
                 codec: RecordCodec | None = None) -> None:
        self.folder = Path(folder)
        self.name = name
        self.codec = codec if codec is not None else RecordCodec()
        self._handle: Any = None
        self._segment: _Segment | None = None
        self._count = 0
        self._valid_end = 0
        self.last_seq: int | None = None
        segments = self._segments()
        if segments and _torn_header(segments[-1].path):
            segments[-1].path.unlink()  # created, header not on disk: nothing acknowledged
            segments = segments[:-1]
        for k in range(len(segments) - 1, -1, -1):
            frames, end = self._scan(segments[k], tail_ok=k == len(segments) - 1)
            if k == len(segments) - 1:
                self._segment, self._count, self._valid_end = segments[k], len(frames), end
            if frames:
                self.last_seq = frames[-1][0]
                break

    # --- reading -------------------------------------------------------------------------

    def records(self, after: int = -1) -> Iterator[tuple[int, Any]]:
        """``(seq, record)`` of every record with seq > ``after``, in order.

        Raises:
            JournalError: Corruption before the end of the journal.
        """
        segments = self._segments()
        for k, segment in enumerate(segments):
            if k + 1 < len(segments) and segments[k + 1].first <= after + 1:
                continue
            data = segment.path.read_bytes()
            frames, _ = self._scan(segment, tail_ok=k == len(segments) - 1, data=data)
            for seq, a, b in frames:
                if seq <= after:
                    continue
                try:
                    yield seq, self.codec.decode(data[a:b])
                except CheckpointError as exc:
                    raise JournalError(f"journal {segment.path}: record {seq}: {exc}"
                                       ) from exc

    def _segments(self) -> list[_Segment]:
        found = []
        for path in self.folder.glob(f"{self.name}-*.wal"):
            try:
                first = int(path.stem.rsplit("-", 1)[1])
            except ValueError:
                continue
            found.append(_Segment(path, first))
        return sorted(found, key=lambda s: s.first)

    def _scan(self, segment: _Segment, tail_ok: bool, data: bytes | None = None
              ) -> tuple[list[tuple[int, int, int]], int]:
        """Frames ``(seq, payload start, payload end)`` and the end of the last valid one.

        A short or damaged last frame of the last segment is a crash's unacknowledged tail
        (``tail_ok``): it ends the scan. Anywhere else it is corruption.
        """
        if data is None:
            data = segment.path.read_bytes()
        offset = self._header_end(segment.path, data)
        frames = []
        while offset < len(data):
            head = data[offset:offset + _FRAME.size]
            ok = len(head) == _FRAME.size
            b = len(data)
            if ok:
                magic, size, seq, crc = _FRAME.unpack(head)
                a, b = offset + _FRAME.size, offset + _FRAME.size + size
                ok = b <= len(data) and magic == _MAGIC and zlib.crc32(data[a:b]) == crc
            if not ok:
                if tail_ok and (len(head) < _FRAME.size or b >= len(data)):
                    break  # the frame runs to the end of the file: a torn last write
                raise JournalError(f"journal segment {segment.path} is corrupt at byte "
                                   f"{offset}")
            frames.append((seq, a, b))
            offset = b
        return frames, offset

    @staticmethod
    def _header_end(path: Path, data: bytes) -> int:
        line, newline, _ = data.partition(b"\n")
        try:
            header = json.loads(line)
        except ValueError:
            header = None
        if not newline or not isinstance(header, dict) or header.get("format") != FORMAT:
            raise JournalError(f"{path} is not an {FORMAT} segment")
        version = header.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise JournalError(f"{path} has format version {version!r} (written by code "
                               f"{header.get('code_version')}); this code {CODE_VERSION} "
                               f"reads up to {FORMAT_VERSION}: run newer code")
        return len(line) + 1

    # --- writing -------------------------------------------------------------------------

    def append(self, seq: int, record: Any) -> None:
        """Append the record of step ``seq`` and fsync it (the step's only fsync).

        Raises:
            JournalError: ``seq`` does not follow the last record, or the write failed.
        """
        if self.last_seq is not None and seq <= self.last_seq:
            raise JournalError(f"journal record {seq} after {self.last_seq}: out of order")
        payload = self.codec.encode(record)
        frame = _FRAME.pack(_MAGIC, len(payload), seq, zlib.crc32(payload)) + payload
        try:
            handle = self._open_for(seq)
            handle.write(frame)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self.close()
            raise JournalError(f"cannot append to the journal in {self.folder}: {exc}"
                               ) from exc
        self._count += 1
        self._valid_end += len(frame)
        self.last_seq = seq

    def _open_for(self, seq: int) -> Any:
        if self._handle is not None and self._count < SEGMENT_RECORDS:
            return self._handle
        self.close()
        if self._segment is not None and self._count < SEGMENT_RECORDS:
            handle = self._segment.path.open("r+b")
            handle.truncate(self._valid_end)  # drop a torn tail before appending
            handle.seek(self._valid_end)
            self._handle = handle
            return handle
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.name}-{seq:010d}.wal"
        header = {"code_version": CODE_VERSION, "first_seq": seq, "format": FORMAT,
                  "format_version": FORMAT_VERSION}
        line = json.dumps(header, sort_keys=True).encode() + b"\n"
        handle = path.open("wb")
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
        self._segment, self._count, self._handle = _Segment(path, seq), 0, handle
        self._valid_end = len(line)
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return handle

    def release(self, before: int) -> int:
        """Delete the segments whose records all have seq < ``before``; returns how many."""
        segments = self._segments()
        removed = 0
        for k, segment in enumerate(segments[:-1]):
            if segments[k + 1].first <= before:
                segment.path.unlink(missing_ok=True)
                removed += 1
        return removed

    def close(self) -> None:
        """Close the open segment (appends reopen it)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
