"""Typed, versioned checkpoints: exact round trips, determinism, versions, refusals, atomicity."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actors.adapters.journal import Journal
from actors.live.checkpoint import (
    CODE_VERSION,
    FORMAT_VERSION,
    SCHEMA_VERSIONS,
    Checkpoint,
    CheckpointError,
    Migrations,
)
from actors.live.codec import RecordCodec
from actors.live.executor import ExecutorSnapshot
from actors.live.wal_records import StepRecord
from configs.backtest import BacktestConfig
from configs.guardian import GuardianConfig
from core.trading.execution import LocalLink
from core.trading.messages import Side, TradingState
from core.trading.paper import PaperClient
from core.trading.replay import RecordingLink, without_preview
from core.trading.risk import RiskEngine
from tests.actors.live.checkpoint_states import (
    BTC,
    CONFIG,
    JournalOnLast,
    diary_of,
    guardian_step,
    new_candidate_book,
    restored_trader,
    walk_session,
)
from tests.actors.live.codec_types import Color, Frozen, Level, Mutable, Plain, Slotted

CODEC = RecordCodec((*RecordCodec().packages, "tests"))


def same(a: Any, b: Any) -> bool:
    """Exact equality that also compares NaN, -0.0, numpy arrays and eq=False dataclasses."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b))
    if isinstance(a, np.ndarray):
        return (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                and a.flags.writeable == b.flags.writeable)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a))
    if "__slots__" in vars(type(a)) and "__getstate__" in vars(type(a)):  # FifoPosition, ...
        return same(a.__getstate__(), b.__getstate__())
    return bool(a == b)


def roundtrip(value: Any) -> Any:
    return CODEC.decode(CODEC.encode(value))


VALUES = {
    "none": None, "bools": (True, False), "ints": (0, -1, 2**80, -(2**70)),
    "floats": (0.0, -0.0, 1.5, 1e-310, 1e308, 0.1 + 0.2, float("inf"), float("-inf"),
               float("nan")),
    "str": "héllo \u2603 \"quoted\"\n", "bytes": b"\x00\x80\xff", "empty": ((), [], {}, ""),
    "list": [1, [2, (3, "x")], None], "tuple_keys": {("BTC", "core"): 1.0, (1, 2.5): "a"},
    "int_keys": {3: "c", 1: "a", 2: "b"}, "set": {3, 1, 2}, "frozenset": frozenset({"b", "a"}),
    "nested_sets": {frozenset({1, 2}), frozenset({3})},
    "numpy_scalars": (np.float64(-0.0), np.float32(1.25), np.int64(-7), np.uint8(200),
                      np.bool_(True), np.float64("nan")),
    "enums": (Side.BUY, TradingState.HALTED, Color.RED, Level.HIGH),
    "dataclasses": (Frozen(1, "a", (1.0, float("nan"))), Plain(2, [Side.SELL]),
                    Mutable({"k": (1,)}), Slotted(-0.0, None)),
    "config": (BacktestConfig(direction="long_short", stops={"stop_loss_pct": 3.0}),
               GuardianConfig(kill_switch_file=None)),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_every_supported_kind_round_trips_exactly(name: str) -> None:
    value = VALUES[name]
    back = roundtrip(value)
    assert same(back, value)
    assert CODEC.encode(back) == CODEC.encode(value)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8", "bool",
                                   ">f8", "complex128", "datetime64[ms]", "<U4"])
def test_numpy_arrays_keep_dtype_shape_bytes_and_writeability(dtype: str) -> None:
    base = np.arange(12).reshape(3, 4)
    if dtype.startswith("<U"):
        base = np.array([["ab", "c"], ["", "dddd"]])
    array = base.astype(dtype)
    frozen = array.copy()
    frozen.setflags(write=False)
    strided = array[:, ::2]  # not contiguous
    for value in (array, frozen, strided, np.empty((0, 3), dtype=dtype)):
        back = roundtrip(value)
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
        assert back.flags.writeable == value.flags.writeable
    special = np.array([np.nan, -0.0, np.inf, -np.inf])
    assert roundtrip(special).tobytes() == special.tobytes()


def test_encoding_is_deterministic_and_sets_do_not_depend_on_hash_order() -> None:
    value = {"s": {"b", "a", "c", "d"}, "f": frozenset({(2, "x"), (1, "y")}),
             "cfg": GuardianConfig(), "x": Frozen(1, "a", ())}
    assert CODEC.encode(value) == CODEC.encode(value)
    shuffled = {"s": {"d", "c", "b", "a"}, "f": frozenset({(1, "y"), (2, "x")}),
                "cfg": GuardianConfig(), "x": Frozen(1, "a", ())}
    assert CODEC.encode(shuffled) == CODEC.encode(value)


def test_real_actor_states_round_trip_exactly(tmp_path: Path, shared_data: Path) -> None:
    session = walk_session(shared_data)
    steps, tf = session.steps, session.market.timeframe_ms
    assert sum(len(s.outcome.fills) for s in steps) > 0  # the session really traded
    assert any(s.record.has_tail for s in steps) and any(s.record.prev_tail for s in steps)
    journal_codec = Journal(tmp_path / "journal").codec
    for step in steps:
        for state in (step.guardian, step.executor, step.candidate, step.record):
            data = CODEC.encode(state)
            back = CODEC.decode(data)
            assert same(back, state)
            assert CODEC.encode(back) == data
        data = journal_codec.encode(step.record)
        assert same(journal_codec.decode(data), step.record)
        assert journal_codec.encode(journal_codec.decode(data)) == data
    journal = Journal(tmp_path / "journal")
    for step in steps:
        journal.append(step.record.seq, step.record)
    records = list(Journal(tmp_path / "journal").records())
    assert [seq for seq, _ in records] == [s.record.seq for s in steps]
    for (_, record), step in zip(records, steps, strict=True):
        assert isinstance(record, StepRecord) and same(record, step.record)
        assert record.has_tail == step.record.has_tail
    last = steps[-1]
    executor = CODEC.decode(CODEC.encode(last.executor))
    assert isinstance(executor, ExecutorSnapshot) and executor.client.events == ()
    restored = PaperClient.from_state(executor.client)
    assert restored.state_hash() == last.client_hash
    assert restored.account() == PaperClient.from_state(last.client).account()
    assert executor.exchanges == ((last.requests[-1], without_preview(last.replies[-1])),)
    guardian = CODEC.decode(CODEC.encode(last.guardian))
    assert guardian.risk == last.risk
    assert RiskEngine.from_state(guardian.risk).to_state() == last.risk
    trader = restored_trader(guardian, tf)
    assert CODEC.encode(trader.state) == CODEC.encode(last.trader)
    assert trader.portfolio.equity() == last.outcome.portfolio.equity
    assert trader.portfolio.reconcile(restored.account()) == []
    assert same(guardian.reports, last.guardian.reports)
    candidate = CODEC.decode(CODEC.encode(last.candidate))
    book = new_candidate_book(tf)
    book.restore(candidate.book)
    assert CODEC.encode(book.state) == CODEC.encode(last.candidate.book)
    assert book.client.state_hash() == last.client_hash  # the same trades as the live book


def test_a_restart_from_the_file_trades_on_exactly_like_the_original(tmp_path: Path,
                                                                     shared_data: Path) -> None:
    session = walk_session(shared_data)
    steps, tf = session.steps, session.market.timeframe_ms
    k = 2
    files = {name: Checkpoint(tmp_path, name) for name in ("guardian", "executor",
                                                            "candidate-mom")}
    files["guardian"].save(steps[k].guardian)
    files["executor"].save(steps[k].executor)
    files["candidate-mom"].save(steps[k].candidate)
    # the restart: the same constructors as a cold start, fed from the files
    saved = files["guardian"].load()
    trader = restored_trader(saved, tf)
    client = PaperClient.from_state(files["executor"].load().client)
    candidate_state = files["candidate-mom"].load()
    candidate = new_candidate_book(tf)
    candidate.restore(candidate_state.book)
    candidate.trader.gate = RiskEngine.from_state(candidate_state.risk)
    tail = saved.tail
    for step in steps[k + 1:]:
        venue = LocalLink(client)
        venue.begin(step.batch)
        link = RecordingLink(venue)
        journal = JournalOnLast(step.record.seq, step.record.i0, step.record.i1, step.signals,
                                diary_of(step.signals), link, tail)
        link.before_send = journal
        outcome, events = guardian_step(trader, step.batch, step.signals, link)
        record, tail = journal.finish(), journal.tail_reply()
        assert outcome.fills == step.outcome.fills
        assert outcome.decisions == step.outcome.decisions
        assert events == step.events
        np.testing.assert_array_equal(outcome.equity, step.outcome.equity)
        assert CODEC.encode(record) == CODEC.encode(step.record)
        assert client.state_hash() == step.client_hash
        again = candidate.step(step.batch, step.signals)
        assert again.fills == step.candidate_outcome.fills
        np.testing.assert_array_equal(again.equity, step.candidate_outcome.equity)
    assert CODEC.encode(trader.state) == CODEC.encode(steps[-1].trader)
    gate = trader.gate
    assert isinstance(gate, RiskEngine) and gate.to_state() == steps[-1].risk
    assert tail == (without_preview(steps[-1].replies[-1]) if steps[-1].record.has_tail else None)
    assert CODEC.encode(candidate.state) == CODEC.encode(steps[-1].candidate.book)
    candidate_gate = candidate.trader.gate
    assert isinstance(candidate_gate, RiskEngine)
    assert candidate_gate.to_state() == steps[-1].candidate.risk


def test_checkpoint_file_saves_loads_and_replaces_atomically(tmp_path: Path,
                                                             shared_data: Path) -> None:
    steps = walk_session(shared_data).steps
    checkpoint = Checkpoint(tmp_path / "state", "guardian")
    assert checkpoint.load() is None  # cold start
    for step in steps:
        checkpoint.save(step.guardian)
        assert same(checkpoint.load(), step.guardian)
        assert same(Checkpoint(tmp_path / "state", "guardian").load(), step.guardian)
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["guardian.ckpt"]
    first = checkpoint.path.read_bytes()
    checkpoint.save(steps[-1].guardian)
    assert checkpoint.path.read_bytes() == first  # deterministic on disk too
    header = json.loads(first.partition(b"\n")[0])
    assert header == {"code_version": CODE_VERSION, "format": "evotrader-checkpoint",
                      "format_version": FORMAT_VERSION, "kind": "guardian",
                      "payload_bytes": header["payload_bytes"],
                      "payload_crc32": header["payload_crc32"],
                      "schema_version": SCHEMA_VERSIONS["guardian"]}
    assert SCHEMA_VERSIONS["guardian"] == 3 and SCHEMA_VERSIONS["executor"] == 2
    # a failed encode leaves the previous checkpoint untouched
    with pytest.raises(CheckpointError, match="GuardianSnapshot.tail"):
        checkpoint.save(dataclasses.replace(steps[0].guardian, tail=object()))
    assert checkpoint.path.read_bytes() == first
    assert [p.name for p in checkpoint.path.parent.iterdir()] == ["guardian.ckpt"]


def test_a_guardian_checkpoint_of_schema_2_loads_with_its_reports_class_moved(
        tmp_path: Path, shared_data: Path) -> None:
    snapshot = walk_session(shared_data).steps[-1].guardian
    assert snapshot.reports  # the moved class is in the state
    checkpoint = Checkpoint(tmp_path, "guardian")
    checkpoint.save(snapshot)
    header, _, payload = checkpoint.path.read_bytes().partition(b"\n")
    tree = json.loads(payload)
    names = [entry[0] for entry in tree[1]]
    assert "actors.live.reports:GuardianReport" in names
    tree[1] = [["actors.live.guardian:GuardianReport", *entry[1:]]
               if entry[0] == "actors.live.reports:GuardianReport" else entry
               for entry in tree[1]]
    old = json.dumps(tree, separators=(",", ":")).encode()
    head = {**json.loads(header), "schema_version": 2, "payload_bytes": len(old),
            "payload_crc32": f"{zlib.crc32(old):08x}"}
    checkpoint.path.write_bytes(json.dumps(head).encode() + b"\n" + old)
    assert same(Checkpoint(tmp_path, "guardian").load(), snapshot)


def test_a_newer_version_is_refused_naming_both_versions(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "executor")
    checkpoint.save({"x": 1})
    header, _, payload = checkpoint.path.read_bytes().partition(b"\n")
    newer = {**json.loads(header), "format_version": FORMAT_VERSION + 1,
             "code_version": "9.0.0"}
    checkpoint.path.write_bytes(json.dumps(newer).encode() + b"\n" + payload)
    with pytest.raises(CheckpointError) as info:
        checkpoint.load()
    message = str(info.value)
    assert f"format version {FORMAT_VERSION + 1}" in message and "9.0.0" in message
    assert f"up to {FORMAT_VERSION}" in message and CODE_VERSION in message
    assert str(checkpoint.path) in message
    newer = {**json.loads(header), "schema_version": 3}
    checkpoint.path.write_bytes(json.dumps(newer).encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match="executor schema version 3.*up to 2"):
        checkpoint.load()


def test_older_format_and_schema_go_through_the_migration_hooks(tmp_path: Path) -> None:
    codec = CODEC
    # a synthetic v0 file: header named the owner "owner" and had no schema version; the
    # Frozen record called its field "label" "name"
    tree = codec.to_tree(Frozen(3, "abc", (1.0,)))
    tree[1][0][1] = ["number", "name", "values"]
    payload = json.dumps(tree, separators=(",", ":")).encode()
    header = {"format": "evotrader-checkpoint", "format_version": 0, "owner": "candidate-x",
              "payload_bytes": len(payload), "payload_crc32": f"{zlib.crc32(payload):08x}"}
    path = tmp_path / "candidate-x.ckpt"
    path.write_bytes(json.dumps(header).encode() + b"\n" + payload)

    def v0_to_v1(document: dict[str, Any]) -> dict[str, Any]:
        head = {k: v for k, v in document["header"].items() if k != "owner"}
        head.update(format_version=1, kind=document["header"]["owner"], schema_version=1)
        entries = document["payload"][1]
        entries[0][1] = ["label" if f == "name" else f for f in entries[0][1]]
        return {"header": head, "payload": document["payload"]}

    with pytest.raises(CheckpointError, match="format version 0.*no migration"):
        Checkpoint(tmp_path, "candidate-x", codec=codec).load()
    migrations = Migrations()
    migrations.register_format(0, v0_to_v1)
    assert Checkpoint(tmp_path, "candidate-x", codec=codec, migrations=migrations,
                      schema_version=1).load() == Frozen(3, "abc", (1.0,))
    with pytest.raises(CheckpointError, match="candidate schema version 1.*reads schema "
                                              "version 2.*no migration from version 1"):
        Checkpoint(tmp_path, "candidate-x", codec=codec, migrations=migrations).load()
    # schema v1 -> v2 of the candidate family: values doubled
    migrations.register_schema("candidate", 1, lambda p: [p[0], p[1], [*p[2][:4], ["t", 2.0]]])
    newer = Checkpoint(tmp_path, "candidate-x", codec=codec, migrations=migrations,
                       schema_version=2)
    assert newer.load() == Frozen(3, "abc", (2.0,))
    with pytest.raises(CheckpointError, match="schema version 2.*reads schema version 3"):
        Checkpoint(tmp_path, "candidate-x", codec=codec, migrations=migrations,
                   schema_version=3).load()


def test_legacy_pickle_checkpoints_are_refused_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    legacy = tmp_path / "guardian.pkl"
    legacy.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(CheckpointError, match="legacy pickle"):
        Checkpoint(tmp_path, "guardian").load()
    new = Checkpoint(tmp_path, "executor")
    new.path.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(CheckpointError, match="legacy pickle"):
        new.load()
    assert not marker.exists()


class _Boom:
    """Unpickling this touches a file: proof that nothing was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.path),))


def crafted(name: str, fields: list[str] | None, node: list[Any]) -> bytes:
    entry = [name] if fields is None else [name, fields]
    return json.dumps(["r", [entry], node]).encode()


@pytest.mark.parametrize("name", ["os:system", "builtins:eval", "subprocess:Popen",
                                  "actors.live.checkpoint:os.system",
                                  "actors.live.codec:importlib.import_module",
                                  "core.trading.paper:np.ndarray", "pathlib:Path"])
def test_a_type_outside_the_project_is_never_imported_or_called(name: str, tmp_path: Path
                                                                 ) -> None:
    marker = tmp_path / "pwned"
    data = crafted(name, ["command"], ["o", 0, f"touch {marker}"])
    with pytest.raises(CheckpointError, match="outside the packages|not a class defined"):
        RecordCodec().decode(data)
    assert not marker.exists()


def test_unknown_or_missing_fields_and_types_name_the_type_and_field() -> None:
    name = "tests.actors.live.codec_types:Frozen"
    with pytest.raises(CheckpointError, match="Frozen has no field 'colour'"):
        CODEC.decode(crafted(name, ["number", "label", "values", "colour"],
                             ["o", 0, 1, "a", ["t"], "red"]))
    with pytest.raises(CheckpointError, match="Frozen: field 'label' is missing"):
        CODEC.decode(crafted(name, ["number"], ["o", 0, 1]))
    with pytest.raises(CheckpointError, match="unknown type core.trading.messages:Nope"):
        CODEC.decode(crafted("core.trading.messages:Nope", ["a"], ["o", 0, 1]))
    with pytest.raises(CheckpointError, match="Side has no member of value 'UP'"):
        CODEC.decode(crafted("core.trading.messages:Side", None, ["e", 0, "UP"]))
    with pytest.raises(CheckpointError, match="GuardianConfig has no field 'oops'"):
        CODEC.decode(crafted("configs.guardian:GuardianConfig", ["oops"], ["o", 0, 1]))
    with pytest.raises(CheckpointError, match="invalid configs.guardian:GuardianConfig.*"
                                              "price_band_pct"):
        CODEC.decode(crafted("configs.guardian:GuardianConfig", ["price_band_pct"],
                             ["o", 0, -5.0]))
    with pytest.raises(CheckpointError, match="Slotted: field 'b' is missing"):
        CODEC.decode(crafted("tests.actors.live.codec_types:Slotted", ["a"], ["o", 0, 1.0]))


def test_unsupported_values_are_refused_at_save_with_their_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"Plain\.tags.*function"):
        RecordCodec(("tests",)).encode(Plain(1, [lambda: 0]))
    with pytest.raises(CheckpointError, match="PaperClient is not a dataclass"):
        RecordCodec().encode({"client": PaperClient(CONFIG, [BTC])})
    with pytest.raises(CheckpointError, match=r"ExecutorSnapshot\.client: .*PaperClient is not"):
        RecordCodec().encode(ExecutorSnapshot(0, PaperClient(CONFIG, [BTC])))  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match="object"):
        RecordCodec().encode(np.array([object()]))
    with pytest.raises(CheckpointError, match="outside the packages"):
        RecordCodec().encode(Frozen(1, "a", ()))  # tests/ is not a project package
    assert not list(tmp_path.iterdir())


def test_torn_truncated_or_foreign_files_give_checkpoint_error(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "executor")
    checkpoint.save({"cash": 10_000.0, "positions": [(1, 2.0)] * 50})
    good = checkpoint.path.read_bytes()
    header_end = good.index(b"\n")
    for cut in (0, 5, header_end, header_end + 1, len(good) // 2, len(good) - 1):
        checkpoint.path.write_bytes(good[:cut])
        with pytest.raises(CheckpointError):
            checkpoint.load()
    flipped = bytearray(good)
    flipped[-10] ^= 0x01
    checkpoint.path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="torn or corrupt"):
        checkpoint.load()
    checkpoint.path.write_bytes(good)
    os.replace(checkpoint.path, tmp_path / "guardian.ckpt")
    with pytest.raises(CheckpointError, match="belongs to 'executor'"):
        Checkpoint(tmp_path, "guardian").load()
    checkpoint.path.write_bytes(b"hello\nworld")
    with pytest.raises(CheckpointError, match="not an evotrader-checkpoint file"):
        checkpoint.load()
