"""File helpers shared by the data adapters: hashes, atomic writes, a lock, Arrow columns.

Writers never modify a file in place: they write a temporary file in the same directory,
flush it to disk and move it over the target with :func:`os.replace`, which is atomic on
POSIX file systems. A crash or an exception mid-write therefore leaves either the old file or
the new one, never a torn mix, and the temporary file is removed on failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import DataError, DataValidationError

try:  # POSIX advisory locks; absent on Windows, where locking degrades to a no-op.
    import fcntl
except ImportError:  # pragma: no cover - not reached on Linux
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".tmp"
_HASH_CACHE: dict[str, tuple[tuple[int, int, int], str]] = {}


def sha256_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's bytes.

    The digest is remembered per path together with the file's inode, size and mtime, so
    re-reading an unchanged file does not hash it again; an atomic replace changes the inode.

    Args:
        path: File to hash.
        chunk_size: Bytes read per step.

    Raises:
        DataError: If the file cannot be read.
    """
    try:
        stat = path.stat()
        key = str(path.resolve())
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = _HASH_CACHE.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(chunk_size):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"cannot read {path} to hash it: {exc}") from exc
    _HASH_CACHE[key] = (version, digest.hexdigest())
    return digest.hexdigest()


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temporary path beside ``path`` (same directory, same file system)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def is_temp_file(path: Path) -> bool:
    """True for the temporary files :func:`atomic_write` creates (readers skip them)."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system supports directory fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` atomically through a temporary file in the same directory.

    Args:
        path: Final location; its parent directory is created when missing.
        write: Callback that writes the complete content to the temporary path it receives.

    Raises:
        DataError: If the directory cannot be created or the file cannot be replaced.
        Exception: Whatever ``write`` raises; the old file is untouched and the temporary
            file is removed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create directory {path.parent}: {exc}") from exc
    temp = temp_path_for(path)
    try:
        write(temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    def write(temp: Path) -> None:
        temp.write_bytes(data)

    atomic_write(path, write)


def append_line_durably(path: Path, line: str) -> None:
    """Append one text line to ``path`` and fsync it (durable when this returns)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line if line.endswith("\n") else line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def locked_directory(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``directory`` for a read-modify-write cycle.

    Two processes appending to the same store serialise here instead of losing each
    other's bars. The lock lives on the directory itself, so no lock files are left behind.

    Raises:
        DataError: If the directory cannot be created or opened.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise DataError(f"cannot open {directory} for writing: {exc}") from exc
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file, translating pyarrow failures into :class:`DataError`."""
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read Parquet file {path}: {exc}") from exc


def column_array(table: pa.Table, name: str, source: str, *, integer: bool = False) -> np.ndarray:
    """Return one column as int64 (``integer``) or float64 numpy, refusing nulls and bad types.

    Raises:
        DataError: If the column is missing or has the wrong type.
        DataValidationError: If it holds nulls (names the first null row).
    """
    if name not in table.column_names:
        raise DataError(f"{source}: missing column {name!r}; found {table.column_names}")
    column = table.column(name)
    kind = column.type
    ok = pa.types.is_integer(kind) if integer else (
        pa.types.is_floating(kind) or pa.types.is_integer(kind)
    )
    if not ok:
        wanted = "int64 epoch milliseconds" if integer else "a number"
        raise DataError(f"{source}: column {name!r} has type {kind}; expected {wanted}")
    if column.null_count:
        row = int(np.argmax(pc.is_null(column).to_numpy(zero_copy_only=False)))
        raise DataValidationError(f"{name} is null", source=source, row=row)
    return column.to_numpy().astype(np.int64 if integer else np.float64, copy=False)


class FileWatch:
    """Tells whether a file changed since the last look (size and mtime: one ``stat``).

    Args:
        path: The watched file (it may not exist yet).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None

    def changed(self) -> bool:
        """True when the file exists and differs from the last time this returned True."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return False
        seen = (stat.st_size, stat.st_mtime_ns)
        if seen == self._seen:
            return False
        self._seen = seen
        return True
