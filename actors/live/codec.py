"""A typed, deterministic record codec for checkpoints: plain data in, JSON bytes out.

Unlike pickle, decoding never runs arbitrary code: a record names its types by module and
qualified name (``core.trading.messages:Fill``), only classes defined in this project's
packages (``core``, ``configs``, ``actors``, ``supervisors``) are looked up, and objects are
rebuilt through their constructors (dataclasses, enums), ``model_validate`` (pydantic models)
or their own ``__setstate__`` (slotted classes that define ``__getstate__``/``__setstate__``).

A record is ``["r", types, root]``. ``types`` names each class once, in order of first
use: ``[name, [field, ...]]`` for an object, ``[name]`` for an enum. In ``root`` every value
is a JSON value; JSON arrays are tagged nodes:

=================================  ==========================================================
``null`` / ``true`` / ``1`` / ``"s"``  None, bool, int, str
``1.5``, ``-0.0``                  finite float (``repr`` round-trips exactly)
``["f", "nan"|"inf"|"-inf"]``      non-finite float
``["t", v, ...]`` / ``["l", ...]``   tuple / list
``["s", ...]`` / ``["fs", ...]``     set / frozenset (items sorted by their encoding)
``["d", k1, v1, k2, v2, ...]``     dict in insertion order (keys of any encodable type)
``["b", "base64"]``                bytes
``["a", dtype, shape, "base64", writeable]``  numpy array (C order, ``dtype.str``)
``["n", dtype, "base64"]``         numpy scalar
``["e", i, value]``                member of the enum of type entry ``i`` (by value)
``["o", i, v1, v2, ...]``          object of type entry ``i``, values in its field order
=================================  ==========================================================

The same value always gives the same bytes (sets are sorted, dicts keep their order).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import json
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from core.errors import EvotraderError

PROJECT_PACKAGES: tuple[str, ...] = ("core", "configs", "actors", "supervisors")
"""Top-level packages whose classes a record may name."""

_INF = float("inf")
_FLOAT_TAGS = {"nan": float("nan"), "inf": _INF, "-inf": -_INF}
_Encoder = Callable[[Any, Any], Any]
_JSON = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class CheckpointError(EvotraderError):
    """A checkpoint cannot be written or read as typed records.

    The session must not continue blindly: the message names the file, the versions or the
    type and field at fault; fix the code or start a new session.
    """


class _UnencodableError(CheckpointError):
    """Internal: carries the field path up to :meth:`RecordCodec.encode`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


def type_name(cls: type) -> str:
    """The name a record uses for ``cls``: ``module:QualifiedName``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


_PRIMITIVES = frozenset({type(None), bool, int, str})
_JSON_SCALARS = frozenset({type(None), bool, int, str, float})


class _Types:
    """The type table of one record being encoded: one entry per class (and field list)."""

    __slots__ = ("entries", "index")

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.entries: list[list[Any]] = []

    def of(self, key: Any, name: str, fields: tuple[str, ...] | None) -> int:
        number = self.index.get(key)
        if number is None:
            number = self.index[key] = len(self.entries)
            self.entries.append([name] if fields is None else [name, list(fields)])
        return number


class RecordCodec:
    """Encodes plain data to deterministic JSON bytes and decodes it back to equal objects.

    A record is ``["r", types, root]``: ``types`` lists ``[type name, [field, ...]]`` (or
    ``[type name]`` for an enum) once per class, and ``root`` is the value, where an object
    is ``["o", i, value, ...]`` with the values in the order of entry ``i``'s fields and an
    enum member is ``["e", i, value]``. Field names are thus written once per file and
    checked against the class once per file.

    Args:
        packages: Top-level packages whose classes may be encoded and decoded (the project's
            by default; tests add their own package).
    """

    def __init__(self, packages: Iterable[str] = PROJECT_PACKAGES) -> None:
        self.packages = frozenset(packages)
        self._encoders: dict[type, _Encoder] = {
            float: _encode_float, tuple: self._encode_tuple, list: self._encode_list,
            dict: self._encode_dict, set: self._encode_set, frozenset: self._encode_set,
            bytes: _encode_bytes, np.ndarray: _encode_array,
        }
        self._classes: dict[str, type] = {}
        self._builders: dict[tuple[Any, ...], tuple[str, Callable[[Any], Any]]] = {}

    # --- encoding ------------------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        """The record of ``value`` as ASCII JSON bytes (the same value, the same bytes).

        Raises:
            CheckpointError: A value (named with its field path) is of an unsupported type.
        """
        return _JSON.encode(self.to_tree(value)).encode("ascii")

    def to_tree(self, value: Any) -> list[Any]:
        """The JSON-compatible record ``["r", types, root]`` that :meth:`encode` serialises.

        Raises:
            CheckpointError: As :meth:`encode`.
        """
        types = _Types()
        try:
            root = self._tree(value, types)
        except _UnencodableError as exc:
            where = ".".join(reversed(exc.path)) or "<root>"
            raise CheckpointError(f"cannot encode {where}: {exc.message}") from None
        return ["r", types.entries, root]

    def _tree(self, value: Any, types: _Types) -> Any:
        cls = type(value)
        if cls in _PRIMITIVES:
            return value
        encoder = self._encoders.get(cls) or self._encoder_for(cls)
        return encoder(value, types)

    def _encode_tuple(self, value: tuple[Any, ...], types: _Types) -> list[Any]:
        tree = self._tree
        return ["t", *[tree(item, types) for item in value]]

    def _encode_list(self, value: list[Any], types: _Types) -> list[Any]:
        tree = self._tree
        return ["l", *[tree(item, types) for item in value]]

    def _encode_dict(self, value: dict[Any, Any], types: _Types) -> list[Any]:
        out: list[Any] = ["d"]
        tree = self._tree
        for key, item in value.items():
            out.append(tree(key, types))
            out.append(tree(item, types))
        return out

    def _encode_set(self, value: set[Any] | frozenset[Any], types: _Types) -> list[Any]:
        items = [self._tree(item, types) for item in value]
        items.sort(key=_JSON.encode)
        return ["s" if type(value) is set else "fs", *items]

    def _encoder_for(self, cls: type) -> _Encoder:
        """Build (and cache) the encoder of a class met for the first time."""
        if issubclass(cls, np.generic):
            encoder: _Encoder = _encode_scalar
        elif issubclass(cls, np.ndarray):
            encoder = _encode_array
        else:
            name = type_name(cls)
            self._check_project_class(cls, name)
            if issubclass(cls, enum.Enum):
                encoder = self._enum_encoder(cls, name)
            elif issubclass(cls, BaseModel):
                encoder = self._fields_encoder(cls, name, tuple(cls.model_fields), True)
            elif dataclasses.is_dataclass(cls):
                names = tuple(f.name for f in dataclasses.fields(cls))
                encoder = self._fields_encoder(cls, name, names, False)
            elif _has_own_state(cls):
                encoder = self._state_encoder(cls, name)
            else:
                raise _UnencodableError(f"{name} is not a dataclass, enum, pydantic model or "
                                        "class with __getstate__/__setstate__")
        self._encoders[cls] = encoder
        return encoder

    def _check_project_class(self, cls: type, name: str) -> None:
        if cls.__module__.partition(".")[0] not in self.packages:
            raise _UnencodableError(f"type {name} is outside the packages "
                                    f"{sorted(self.packages)} and the supported builtins")
        if "<locals>" in cls.__qualname__:
            raise _UnencodableError(f"type {name} is local to a function (cannot be decoded)")

    def _enum_encoder(self, cls: type[enum.Enum], name: str) -> _Encoder:
        values = {member: self._tree(member.value, _Types()) for member in cls}
        return lambda member, types: ["e", types.of(cls, name, None), values[member]]

    def _fields_encoder(self, cls: type, name: str, names: tuple[str, ...], pydantic: bool
                        ) -> _Encoder:
        getter = operator.attrgetter(*names) if names else (lambda _obj: ())
        single = len(names) == 1
        tree, primitives = self._tree, _PRIMITIVES

        def encode(obj: Any, types: _Types) -> list[Any]:
            if pydantic and obj.__pydantic_extra__:
                raise _UnencodableError(f"{name} has extra fields "
                                        f"{sorted(obj.__pydantic_extra__)} (not supported)")
            values = (getter(obj),) if single else getter(obj)
            out = ["o", types.of(cls, name, names)]
            try:
                out.extend([item if (kind := type(item)) in primitives
                            or (kind is float and item - item == 0.0)
                            else tree(item, types) for item in values])
            except _UnencodableError as exc:
                exc.path.append(f"{name}.{_failing(names, values, tree, types)}")
                raise
            return out

        return encode

    def _state_encoder(self, cls: type, name: str) -> _Encoder:
        tree = self._tree

        def encode(obj: Any, types: _Types) -> list[Any]:
            state = obj.__getstate__()
            if type(state) is not dict or not all(type(k) is str for k in state):
                raise _UnencodableError(f"{name}.__getstate__ must return a dict of str keys")
            names = tuple(state)
            out = ["o", types.of((cls, names), name, names)]
            for field, item in state.items():
                try:
                    out.append(tree(item, types))
                except _UnencodableError as exc:
                    exc.path.append(f"{name}.{field}")
                    raise
            return out

        return encode

    # --- decoding ------------------------------------------------------------------------

    def decode(self, data: bytes) -> Any:
        """The value a record of :meth:`encode` holds.

        Raises:
            CheckpointError: The bytes are not valid JSON, a node is malformed, a type is
                unknown or outside the project's packages, or a field is unknown or missing.
        """
        try:
            tree = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"record is not valid JSON: {exc}") from exc
        return self.from_tree(tree)

    def from_tree(self, tree: Any) -> Any:
        """The value of a record tree (see :meth:`to_tree`).

        Raises:
            CheckpointError: As :meth:`decode`.
        """
        if type(tree) is not list or len(tree) != 3 or tree[0] != "r" \
                or type(tree[1]) is not list:
            raise CheckpointError(f"malformed record {_preview(tree)}: expected "
                                  "['r', types, root]")
        builders = [self._entry_builder(entry) for entry in tree[1]]
        return self._value(tree[2], builders)

    def _value(self, tree: Any, builders: list[tuple[str, Callable[[Any], Any]]]) -> Any:
        kind = type(tree)
        if kind is list:
            try:
                return self._node(tree, builders)
            except CheckpointError:
                raise
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise CheckpointError(f"malformed record node {_preview(tree)}: {exc}"
                                      ) from exc
        if kind in _JSON_SCALARS:
            return tree
        raise CheckpointError(f"malformed record: unexpected JSON {kind.__name__} "
                              f"{_preview(tree)}")

    def _node(self, node: list[Any], builders: list[tuple[str, Callable[[Any], Any]]]
              ) -> Any:
        tag = node[0]
        value = self._value
        if tag == "o" or tag == "e":
            kind, build = builders[node[1]]
            if kind != tag:
                raise CheckpointError(f"malformed record: node {tag!r} refers to a type "
                                      f"entry of kind {kind!r}")
            if tag == "e":
                return build(value(node[2], builders))
            return build([value(item, builders) for item in node[2:]])
        if tag == "t":
            return tuple([value(item, builders) for item in node[1:]])
        if tag == "l":
            return [value(item, builders) for item in node[1:]]
        if tag == "f":
            return _FLOAT_TAGS[node[1]]
        if tag == "d":
            items = [value(item, builders) for item in node[1:]]
            if len(items) % 2:
                raise CheckpointError("malformed dict node: odd number of items")
            return dict(zip(items[::2], items[1::2], strict=True))
        if tag == "s":
            return {value(item, builders) for item in node[1:]}
        if tag == "fs":
            return frozenset([value(item, builders) for item in node[1:]])
        if tag == "b":
            return _unb64(node[1])
        if tag == "a":
            _, dtype, shape, data, writeable = node
            array = np.frombuffer(_unb64(data), dtype=_dtype(dtype)).reshape(shape)
            return array.copy() if writeable else array
        if tag == "n":
            return np.frombuffer(_unb64(node[2]), dtype=_dtype(node[1]))[0]
        raise CheckpointError(f"malformed record: unknown tag {tag!r}")

    def _entry_builder(self, entry: Any) -> tuple[str, Callable[[Any], Any]]:
        if type(entry) is not list or len(entry) not in (1, 2) \
                or (len(entry) == 2 and (type(entry[1]) is not list
                                         or not all(type(f) is str for f in entry[1]))):
            raise CheckpointError(f"malformed type entry {_preview(entry)}")
        fields = tuple(entry[1]) if len(entry) == 2 else None
        key = (entry[0], fields)
        builder = self._builders.get(key)
        if builder is None:
            builder = self._builders[key] = self._make_builder(entry[0], fields)
        return builder

    def _make_builder(self, name: Any, fields: tuple[str, ...] | None
                      ) -> tuple[str, Callable[[Any], Any]]:
        cls = self.resolve(name)
        if issubclass(cls, enum.Enum):
            if fields is not None:
                raise CheckpointError(f"malformed type entry: enum {name} with fields")
            return "e", _enum_builder(name, cls)
        if fields is None:
            raise CheckpointError(f"type {name} is not an enum (its entry has no fields)")
        if issubclass(cls, BaseModel):
            return "o", _model_builder(name, cls, fields)
        if dataclasses.is_dataclass(cls):
            return "o", _dataclass_builder(name, cls, fields)
        if _has_own_state(cls):
            return "o", _state_builder(name, cls, fields)
        raise CheckpointError(f"type {name} is not a dataclass, enum, pydantic model or "
                              "class with __getstate__/__setstate__")

    def resolve(self, name: Any) -> type:
        """The class a record names, looked up only inside the allowed packages.

        Raises:
            CheckpointError: The name is malformed, outside the packages, unknown, or not a
                class defined in the module it names.
        """
        cls = self._classes.get(name) if type(name) is str else None
        if cls is not None:
            return cls
        if type(name) is not str or name.count(":") != 1:
            raise CheckpointError(f"malformed type name {name!r} (expected 'module:Name')")
        module_name, qualname = name.split(":")
        if module_name.partition(".")[0] not in self.packages:
            raise CheckpointError(f"type {name} is outside the packages "
                                  f"{sorted(self.packages)}: refused (never imported)")
        try:
            target: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise CheckpointError(f"unknown type {name} in the checkpoint: {exc}") from exc
        if not isinstance(target, type) or type_name(target) != name:
            raise CheckpointError(f"{name} is not a class defined in {module_name}: refused")
        self._classes[name] = target
        return target


def _failing(names: tuple[str, ...], values: Any, tree: Callable[[Any, _Types], Any],
             types: _Types) -> str:
    """The first field whose value cannot be encoded (on the error path only)."""
    for field, item in zip(names, values, strict=True):
        try:
            tree(item, types)
        except _UnencodableError:
            return field
    return "?"


def _check_count(name: str, fields: tuple[str, ...], values: list[Any]) -> None:
    if len(values) != len(fields):
        raise CheckpointError(f"malformed record of {name}: {len(values)} values for "
                              f"{len(fields)} fields")


def _enum_builder(name: str, cls: type[enum.Enum]) -> Callable[[Any], Any]:
    def build(value: Any) -> Any:
        try:
            return cls(value)
        except ValueError as exc:
            raise CheckpointError(f"{name} has no member of value {value!r}") from exc
    return build


def _check_fields(name: str, fields: tuple[str, ...], known: set[str] | frozenset[str],
                  required: Iterable[str]) -> None:
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise CheckpointError(f"{name} has no field {unknown[0]!r} (unknown fields in the "
                              f"checkpoint: {unknown})")
    for field in required:
        if field not in fields:
            raise CheckpointError(f"{name}: field {field!r} is missing from the checkpoint")


def _dataclass_builder(name: str, cls: type, fields: tuple[str, ...]
                       ) -> Callable[[list[Any]], Any]:
    spec = dataclasses.fields(cls)
    later = {f.name for f in spec if not f.init}
    _check_fields(name, fields, {f.name for f in spec},
                  [f.name for f in spec if f.init and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING])

    def build(values: list[Any]) -> Any:
        _check_count(name, fields, values)
        given = dict(zip(fields, values, strict=True))
        post = {k: given.pop(k) for k in later if k in given}
        try:
            obj = cls(**given)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"cannot rebuild {name}: {exc}") from exc
        for field, item in post.items():
            object.__setattr__(obj, field, item)
        return obj

    return build


def _model_builder(name: str, cls: type[BaseModel], fields: tuple[str, ...]
                   ) -> Callable[[list[Any]], Any]:
    _check_fields(name, fields, set(cls.model_fields), ())

    def build(values: list[Any]) -> Any:
        _check_count(name, fields, values)
        try:
            return cls.model_validate(dict(zip(fields, values, strict=True)))
        except ValidationError as exc:
            where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise CheckpointError(f"invalid {name} in the checkpoint (fields: {where}): "
                                  f"{exc}") from exc

    return build


def _state_builder(name: str, cls: type, fields: tuple[str, ...]
                   ) -> Callable[[list[Any]], Any]:
    slots = _all_slots(cls)
    if slots is not None:
        _check_fields(name, fields, slots, sorted(slots))

    def build(values: list[Any]) -> Any:
        _check_count(name, fields, values)
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        obj.__setstate__(dict(zip(fields, values, strict=True)))
        return obj

    return build


def _encode_float(value: float, _types: _Types) -> Any:
    if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
        return value
    return ["f", "nan" if value != value else ("inf" if value > 0 else "-inf")]


def _encode_bytes(value: bytes, _types: _Types) -> list[Any]:
    return ["b", _b64(value)]


def _encode_array(value: np.ndarray, _types: _Types) -> list[Any]:
    if value.dtype.hasobject or value.dtype.fields is not None:
        raise _UnencodableError(f"numpy array of dtype {value.dtype} (object and structured "
                                "dtypes are not supported)")
    data = np.ascontiguousarray(value).tobytes()
    return ["a", value.dtype.str, list(value.shape), _b64(data), bool(value.flags.writeable)]


def _encode_scalar(value: np.generic, _types: _Types) -> list[Any]:
    if value.dtype.hasobject or value.dtype.fields is not None:
        raise _UnencodableError(f"numpy scalar of dtype {value.dtype} (not supported)")
    return ["n", value.dtype.str, _b64(value.tobytes())]


def _has_own_state(cls: type) -> bool:
    """True for a class with its own ``__getstate__`` and ``__setstate__``."""
    return (getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None)
            and hasattr(cls, "__setstate__"))


def _all_slots(cls: type) -> frozenset[str] | None:
    """Every slot name along the MRO, or None when an instance has a ``__dict__``."""
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:
        if "__slots__" not in vars(klass):
            return None
        slots = vars(klass)["__slots__"]
        names.update([slots] if isinstance(slots, str) else slots)
    names.discard("__weakref__")
    return frozenset(names)


def _dtype(text: Any) -> np.dtype[Any]:
    if type(text) is not str:
        raise CheckpointError(f"malformed numpy dtype {text!r}")
    dtype = np.dtype(text)
    if dtype.hasobject:
        raise CheckpointError(f"numpy dtype {text!r} holds Python objects: refused")
    return dtype


def _preview(tree: Any) -> str:
    text = repr(tree)
    return text if len(text) <= 80 else text[:77] + "..."
