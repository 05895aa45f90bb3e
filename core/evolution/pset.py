"""A DEAP strongly-typed primitive set built from the DSL's operator registry.

Types (marker classes; DEAP only compares them, nothing is ever computed with them):

* :class:`Series` — what every operator returns; market terminals and constant leaves;
* window types, subclasses of :class:`WindowArg`, one per distinct ``min_window`` of the
  registry (``WindowMin1``, ``WindowMin2``, ...). An operator's window slot gets the type of
  the *smallest* ``min_window`` whose allowed window set (the configured windows in
  ``[min_window, MAX_WINDOW]``) equals its own, and each type's terminals are exactly that
  set. So DEAP's typed operators only ever put an allowed window in a slot, while operators
  whose window sets coincide (all of them with the default windows, which are all >= 2)
  share one type and can replace each other in point mutation;
* scalar types, subclasses of :class:`ScalarArg`: :class:`ClipLow` and :class:`ClipHigh`
  (``clip`` bounds, drawn in ``const_range``), :class:`PowExponent` (``pow``'s exponent,
  one terminal per value of :data:`~core.dsl.generate.POW_EXPONENTS`); a scalar argument of
  any other operator would get the generic :class:`AnyScalar` (constants in ``const_range``).

What typing cannot express is enforced by :func:`~core.evolution.convert.from_deap`: it
orders ``clip`` bounds (two independently drawn bounds may come out as ``lo > hi``), and
rejects a tree where a window taken from a parent outside the configured set (e.g. ``1``)
reached a slot whose ``min_window`` is larger.

DEAP's generators (``genFull``/``genGrow``) need a *primitive* returning every argument type,
so each window and scalar type has an identity primitive ``_id_<Type>``. Our own variation
never creates them; conversion strips them if a DEAP generator did.

The marker types hash by name (crc32), not by memory address: DEAP's ``cxOnePoint`` draws
from a ``set`` of types, whose order would otherwise differ between processes. No global
``creator`` class is used, the primitives' callables refuse to run (trees are converted to
DSL ASTs, never compiled) and constants come from ``functools.partial`` over a module-level
function, so the set pickles and :func:`build_pset` rebuilds it identically in any process.
Prefer rebuilding to shipping a pickle: DEAP restores an ephemeral class from a cache keyed
by the *sending* process's ``id()``, which another process may hold for another class.
:func:`~core.evolution.variation.vary` takes the configuration and rebuilds (memoised).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from functools import lru_cache, partial

import numpy as np
from deap import gp

from configs.evolution import GPConfig
from core.dsl import generate
from core.dsl.generate import POW_EXPONENTS
from core.dsl.nodes import TERMINALS, Node
from core.dsl.operators import MAX_WINDOW, OPERATORS, ArgKind

CONST_DECIMALS = 2
"""New constants are rounded to this many decimals (as :func:`core.dsl.random_tree` does)."""


class _StableHashType(type):
    """Metaclass giving marker types a hash that is the same in every process."""

    def __init__(cls, name: str, bases: tuple, namespace: dict) -> None:
        super().__init__(name, bases, namespace)
        cls._stable_hash = zlib.crc32(cls.__qualname__.encode("ascii"))

    def __hash__(cls) -> int:
        return cls._stable_hash


class Series(metaclass=_StableHashType):
    """A series expression (every operator returns one)."""


class WindowArg(metaclass=_StableHashType):
    """Base of the window types; ``min_window`` is the smallest window of the type's class."""

    min_window = 1


class ScalarArg(metaclass=_StableHashType):
    """Base of the scalar (numeric literal) types."""


class AnyScalar(ScalarArg):
    """A scalar argument without a specific role (constants in ``const_range``)."""


class ClipLow(ScalarArg):
    """The lower bound of ``clip``."""


class ClipHigh(ScalarArg):
    """The upper bound of ``clip``."""


class PowExponent(ScalarArg):
    """The exponent of ``pow``."""


def _window_type(min_window: int) -> type:
    name = f"WindowMin{min_window}"
    cls = _StableHashType(name, (WindowArg,), {
        "__module__": __name__, "__qualname__": name, "min_window": min_window,
        "__doc__": f"A window slot of operators with min_window {min_window}.",
    })
    globals()[name] = cls  # importable by name, so it pickles by reference
    return cls


WINDOW_TYPES: dict[int, type] = {
    m: _window_type(m)
    for m in sorted({spec.min_window for spec in OPERATORS.values() if ArgKind.WINDOW in spec.args})
}
"""The window type of each distinct ``min_window`` in the registry."""

SCALAR_ROLES: dict[tuple[str, int], type] = {
    ("clip", 1): ClipLow, ("clip", 2): ClipHigh, ("pow", 1): PowExponent,
}
"""Scalar slots ``(operator, argument index)`` with a dedicated type."""


def draw_constant(low: float, high: float) -> float:
    """A constant uniform in ``[low, high]`` from the global :mod:`random`, rounded."""
    return round(random.uniform(low, high), CONST_DECIMALS)


def _not_compiled(*args: object) -> None:
    """Stands in for every primitive: DSL trees are evaluated by ``core.dsl``, never here."""
    raise NotImplementedError("DEAP trees are converted to DSL ASTs, never compiled")


class DSLPrimitiveSet(gp.PrimitiveSetTyped):
    """A typed primitive set plus what conversion and variation need to know about it.

    Attributes:
        dsl_terminals: Market terminals, in order.
        operators: Operators in the set (registry order); those whose window type has no
            configured window are left out.
        const_range: Range of new constants.
        all_windows: The configured windows within ``[1, MAX_WINDOW]``, ascending.
        windows: Allowed windows per window type, ascending.
        slot_types: The DEAP type of every argument of every operator in the set.
        identity_names: Names of the identity primitives (stripped by conversion).
        shared_terminals: Reusable window and exponent terminals by ``(type, value)``.
    """

    def __init__(self, windows: Sequence[int], const_range: tuple[float, float],
                 terminals: Sequence[str]) -> None:
        super().__init__("MAIN", [], Series)
        self.dsl_terminals = tuple(terminals)
        self.const_range = (float(const_range[0]), float(const_range[1]))
        configured = sorted({int(w) for w in windows if 1 <= w <= MAX_WINDOW})
        self.all_windows = tuple(configured)
        allowed = {m: tuple(w for w in configured if w >= m) for m in WINDOW_TYPES}
        self.windows: dict[type, tuple[int, ...]] = {}
        self.slot_types: dict[str, tuple[type, ...]] = {}
        self.shared_terminals: dict[tuple[type, float], gp.Terminal] = {}
        for spec in OPERATORS.values():
            kinds: list[type] = []
            for index, kind in enumerate(spec.args):
                if kind is ArgKind.SERIES:
                    kinds.append(Series)
                elif kind is ArgKind.WINDOW:
                    own = allowed[spec.min_window]
                    same = min(m for m in WINDOW_TYPES if allowed[m] == own)
                    kinds.append(WINDOW_TYPES[same])
                    if own:
                        self.windows[WINDOW_TYPES[same]] = own
                else:
                    kinds.append(SCALAR_ROLES.get((spec.name, index), AnyScalar))
            if all(t not in WINDOW_TYPES.values() or t in self.windows for t in kinds):
                self.slot_types[spec.name] = tuple(kinds)
        self.operators = tuple(self.slot_types)
        self.identity_names: frozenset[str] = frozenset()
        self._populate()

    def _populate(self) -> None:
        for name, kinds in self.slot_types.items():
            self.addPrimitive(_not_compiled, list(kinds), Series, name=name)
        for name in self.dsl_terminals:
            self.addTerminal(name, Series, name=name)
        lo, hi = self.const_range
        self.addEphemeralConstant("const", partial(draw_constant, lo, hi), Series)
        used = {t for kinds in self.slot_types.values() for t in kinds if t is not Series}
        for type_ in sorted(used, key=lambda t: t.__qualname__):
            if type_ in self.windows:
                values: tuple[float, ...] = self.windows[type_]
            elif type_ is PowExponent:
                values = tuple(POW_EXPONENTS)
            else:
                values = ()
                self.addEphemeralConstant(type_.__qualname__.lower(),
                                          partial(draw_constant, lo, hi), type_)
            for value in values:
                self.addTerminal(value, type_)
                self.shared_terminals[(type_, value)] = self.terminals[type_][-1]
            identity = f"_id_{type_.__qualname__}"
            self.addPrimitive(_not_compiled, [type_], type_, name=identity)
            self.identity_names |= {identity}


    def random_tree(self, rng: np.random.Generator, min_depth: int, max_depth: int,
                    max_size: int) -> Node:
        """A random well-typed series over this set (see :func:`core.dsl.random_tree`)."""
        return generate.random_tree(
            rng, min_depth=min_depth, max_depth=max_depth, terminals=self.dsl_terminals,
            windows=self.all_windows, const_range=self.const_range, operators=self.operators,
            max_size=max_size)


def _check_terminals(terminals: Sequence[str]) -> tuple[str, ...]:
    names = tuple(terminals)
    unknown = [name for name in names if name not in TERMINALS]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"need distinct market terminals from {TERMINALS}, got {names!r}")
    return names


@lru_cache(maxsize=64)
def _cached(windows: tuple[int, ...], const_range: tuple[float, float],
            terminals: tuple[str, ...]) -> DSLPrimitiveSet:
    return DSLPrimitiveSet(windows, const_range, terminals)


def build_pset(gp_config: GPConfig, terminals: Sequence[str]) -> DSLPrimitiveSet:
    """The typed primitive set of the DSL for a GP configuration and a set of terminals.

    Deterministic: the same arguments give an identical set in any process (same
    primitives and terminals in the same order), so DEAP's random choices over it agree.
    Sets are memoised by ``(windows, const_range, terminals)``; treat them as read-only.

    Args:
        gp_config: Windows and constant range of the search.
        terminals: Market series the trees may read (e.g. without ``funding``).

    Raises:
        ValueError: On unknown or repeated terminals.
    """
    names = _check_terminals(terminals)
    lo, hi = gp_config.const_range
    return _cached(tuple(gp_config.windows), (float(lo), float(hi)), names)
