"""Checkpoints of an actor's hard state: one typed, versioned record file per owner.

An actor loads its checkpoint in ``__init__`` when the file exists (a restart) and starts
empty otherwise (a cold start): the same code path either way. The file is written to a
temporary name, fsynced and renamed over the old one, so a kill at any moment leaves either
the old or the new checkpoint, never a torn one.

File layout (``<owner>.ckpt``): one line of header JSON, a newline, then the payload — the
state encoded by :class:`~actors.live.codec.RecordCodec` (typed JSON, never a pickle)::

    {"code_version":"0.1.0","format":"evotrader-checkpoint","format_version":1,
     "kind":"guardian","payload_bytes":5123,"payload_crc32":"9a0c11f2","schema_version":1}
    ["o","actors.live.guardian:_GuardianState",{"seq_done":3,"risk":["o",...],...}]

Versions: ``format_version`` is the envelope and codec layout (:data:`FORMAT_VERSION`);
``schema_version`` is the layout of the state of one kind of owner (:data:`SCHEMA_VERSIONS`,
keyed by the owner's family: ``candidate-mom-fast`` -> ``candidate``); ``code_version`` says
which code wrote it (:data:`CODE_VERSION`). A file newer than the code on either version is
refused with a message naming both; an older one is upgraded step by step by the functions
of a :class:`Migrations` registry before its payload is decoded. A legacy pickle checkpoint
is refused, never unpickled.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actors.live.codec import CheckpointError, RecordCodec

__all__ = [
    "CODE_VERSION", "FORMAT", "FORMAT_VERSION", "MIGRATIONS", "SCHEMA_VERSIONS", "Checkpoint",
    "CheckpointError", "Migrations", "kind_family", "renamed_types",
]

FORMAT = "evotrader-checkpoint"
"""Magic name in every checkpoint header."""

FORMAT_VERSION = 1
"""Version of the envelope and of the record codec this code writes (and reads up to)."""

CODE_VERSION = "0.1.0"
"""Version of the code writing checkpoints (``pyproject.toml``; no package metadata in actors)."""

SCHEMA_VERSIONS: dict[str, int] = {"guardian": 3, "executor": 2, "candidate": 2, "session": 2,
                                   "venue_executor": 1}
"""Current schema version of the state of each owner family (1 for a family not listed).

guardian 3: its step reports' class moved to :mod:`actors.live.reports` (same fields).
"""

_SUFFIX = ".ckpt"
_LEGACY_SUFFIX = ".pkl"
_HEADER_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_PICKLE_MARK = 0x80  # first byte of every pickle of protocol 2 and later

Document = dict[str, Any]
"""A parsed checkpoint: ``{"header": {...}, "payload": <JSON tree>}``."""


def kind_family(kind: str) -> str:
    """The family whose schema version applies to an owner (``candidate-x``: ``candidate``)."""
    return kind.partition("-")[0]


class Migrations:
    """Upgrade functions from each old version to the next.

    Format upgrades take and return a whole :data:`Document` (header and payload tree);
    schema upgrades take and return the payload tree of one owner family. Both run on the
    JSON tree before any object is decoded, so they can rename types and fields.
    """

    def __init__(self) -> None:
        self.format: dict[int, Callable[[Document], Document]] = {}
        self.schema: dict[tuple[str, int], Callable[[Any], Any]] = {}

    def register_format(self, from_version: int,
                        upgrade: Callable[[Document], Document]) -> None:
        """Register the upgrade of a document from ``from_version`` to ``from_version + 1``."""
        self.format[from_version] = upgrade

    def register_schema(self, family: str, from_version: int,
                        upgrade: Callable[[Any], Any]) -> None:
        """Register the upgrade of a family's payload from ``from_version`` to the next."""
        self.schema[(family, from_version)] = upgrade

    def upgrade(self, document: Document, path: Path, schema_version: int,
                owner: str) -> Document:
        """Bring ``document`` to :data:`FORMAT_VERSION` and to ``schema_version``.

        ``owner`` must be the document's kind (checked once the format is current, before
        the owner's schema upgrades apply to it).

        Raises:
            CheckpointError: A step has no registered upgrade, or the file is another owner's.
        """
        while (version := _version(document["header"], "format_version", path)
               ) < FORMAT_VERSION:
            step = self.format.get(version)
            if step is None:
                raise CheckpointError(
                    f"checkpoint {path} has format version {version}; this code "
                    f"({CODE_VERSION}) reads format version {FORMAT_VERSION} and has no "
                    f"migration from version {version}: start a new session")
            document = step(document)
            if _version(document["header"], "format_version", path) != version + 1:
                raise CheckpointError(f"format migration from version {version} of {path} "
                                      "did not produce the next version")
        header = document["header"]
        if header.get("kind") != owner:
            raise CheckpointError(f"checkpoint {path} belongs to {header.get('kind')!r}, "
                                  f"not to {owner!r}")
        family = kind_family(str(header.get("kind", "")))
        while (version := _version(header, "schema_version", path)) < schema_version:
            schema_step = self.schema.get((family, version))
            if schema_step is None:
                raise CheckpointError(
                    f"checkpoint {path} has {family} schema version {version}; this code "
                    f"({CODE_VERSION}) reads schema version {schema_version} and has no "
                    f"migration from version {version}: start a new session")
            document = {"header": {**header, "schema_version": version + 1},
                        "payload": schema_step(document["payload"])}
            header = document["header"]
        return document


def renamed_types(renames: dict[str, str]) -> Callable[[Any], Any]:
    """A schema upgrade renaming type entries of a record (a class moved to another module).

    Args:
        renames: Old ``module:QualifiedName`` -> new one.
    """
    def upgrade(payload: Any) -> Any:
        tag, types, root = payload
        return [tag, [[renames.get(entry[0], entry[0]), *entry[1:]] for entry in types], root]

    return upgrade


MIGRATIONS = Migrations()
"""The registry :class:`Checkpoint` uses by default."""
MIGRATIONS.register_schema("guardian", 2, renamed_types(
    {"actors.live.guardian:GuardianReport": "actors.live.reports:GuardianReport"}))


class Checkpoint:
    """The checkpoint file of one owner.

    Args:
        folder: The session's state folder.
        owner: Readable owner name (``executor``, ``guardian``, ``candidate-mom-fast``, ...);
            it is also the record kind written in the header.
        codec: Record codec (the project's packages by default).
        migrations: Upgrade functions for older files.
        schema_version: Schema version of this owner's state; by default the family's
            entry of :data:`SCHEMA_VERSIONS`.

    Attributes:
        path: The checkpoint file, ``<folder>/<owner>.ckpt``.
        legacy_path: Where the pickle checkpoint of older code would be (refused if found).
    """

    def __init__(self, folder: str | Path, owner: str, *, codec: RecordCodec | None = None,
                 migrations: Migrations | None = None, schema_version: int | None = None
                 ) -> None:
        self.owner = owner
        self.path = Path(folder) / f"{owner}{_SUFFIX}"
        self.legacy_path = Path(folder) / f"{owner}{_LEGACY_SUFFIX}"
        self.codec = codec if codec is not None else RecordCodec()
        self.migrations = migrations if migrations is not None else MIGRATIONS
        self.schema_version = (schema_version if schema_version is not None
                               else SCHEMA_VERSIONS.get(kind_family(owner), 1))

    # --- writing -------------------------------------------------------------------------

    def encode(self, state: Any) -> bytes:
        """The complete file content for ``state`` (header line + payload).

        Raises:
            CheckpointError: ``state`` holds a value the codec cannot encode.
        """
        payload = self.codec.encode(state)
        header = {"code_version": CODE_VERSION, "format": FORMAT,
                  "format_version": FORMAT_VERSION, "kind": self.owner,
                  "payload_bytes": len(payload), "payload_crc32": f"{zlib.crc32(payload):08x}",
                  "schema_version": self.schema_version}
        return _HEADER_JSON.encode(header).encode("ascii") + b"\n" + payload

    def save(self, state: Any) -> None:
        """Replace the checkpoint with ``state`` atomically.

        Raises:
            CheckpointError: ``state`` cannot be encoded (the old checkpoint is kept).
        """
        data = self.encode(state)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(
            f"{self.path.name}.tmp{os.getpid()}-{threading.get_ident()}")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    # --- reading -------------------------------------------------------------------------

    def load(self) -> Any | None:
        """The saved state, or None when there is none (cold start).

        Raises:
            CheckpointError: The file is unreadable, torn, a legacy pickle, of another kind,
                newer than this code, not upgradable, or names a type or field this code
                does not have.
        """
        if not self.path.exists():
            if self.legacy_path.exists():
                raise CheckpointError(
                    f"{self.legacy_path} is a legacy pickle checkpoint (written before typed "
                    f"checkpoints, format version {FORMAT_VERSION} of code {CODE_VERSION}); "
                    "it is not unpickled: finish that session with its own code or remove "
                    "the file and start a new session")
            return None
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint {self.path}: {exc}") from exc
        return self.decode(data)

    def decode(self, data: bytes) -> Any:
        """The state held by the file content ``data`` (see :meth:`load`)."""
        document = self.upgrade(self.parse(data))  # refuses another owner's file
        try:
            return self.codec.from_tree(document["payload"])
        except CheckpointError as exc:
            raise CheckpointError(f"checkpoint {self.path}: {exc}") from exc

    def parse(self, data: bytes) -> Document:
        """Split, check and parse a file's content into header and payload tree.

        Raises:
            CheckpointError: Legacy pickle, not a checkpoint, newer than this code, or torn.
        """
        if data[:1] == bytes([_PICKLE_MARK]):
            raise CheckpointError(
                f"{self.path} is a legacy pickle checkpoint, not a typed record (this code "
                f"{CODE_VERSION} reads format version {FORMAT_VERSION}); it is not unpickled: "
                "remove it and start a new session")
        line, newline, payload = data.partition(b"\n")
        try:
            header = json.loads(line)
        except ValueError:
            header = None
        if not newline or not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CheckpointError(f"{self.path} is not an {FORMAT} file (torn or foreign)")
        self._refuse_newer(header)
        size, crc = header.get("payload_bytes"), header.get("payload_crc32")
        checked = _version(header, "format_version", self.path) >= 1 or size is not None
        if checked and (size != len(payload) or crc != f"{zlib.crc32(payload):08x}"):
            raise CheckpointError(
                f"checkpoint {self.path} is torn or corrupt: payload of {len(payload)} bytes, "
                f"header says {size} bytes with crc32 {crc}")
        try:
            tree = json.loads(payload)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {self.path}: payload is not JSON: {exc}"
                                  ) from exc
        return {"header": header, "payload": tree}

    def upgrade(self, document: Document) -> Document:
        """Run the migrations that bring an older document to the current versions."""
        return self.migrations.upgrade(document, self.path, self.schema_version, self.owner)

    def _refuse_newer(self, header: dict[str, Any]) -> None:
        written = header.get("code_version", "unknown")
        fmt = _version(header, "format_version", self.path)
        if fmt > FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint {self.path} has format version {fmt} (written by code "
                f"{written}); this code {CODE_VERSION} reads format version up to "
                f"{FORMAT_VERSION}: run newer code or start a new session")
        if "schema_version" not in header and fmt < FORMAT_VERSION:
            return  # an old format; its migration supplies the schema version
        schema = _version(header, "schema_version", self.path)
        if schema > self.schema_version:
            raise CheckpointError(
                f"checkpoint {self.path} has {kind_family(self.owner)} schema version {schema} "
                f"(written by code {written}); this code {CODE_VERSION} reads schema version "
                f"up to {self.schema_version}: run newer code or start a new session")


def _version(header: dict[str, Any], key: str, path: Path) -> int:
    value = header.get(key)
    if type(value) is not int or value < 0:
        raise CheckpointError(f"checkpoint {path}: header field {key!r} is {value!r}, "
                              "not a version number")
    return value
