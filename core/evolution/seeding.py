"""Seeds for the evolution core: derived deterministically, applied without leaking state.

DEAP's GP operators draw from Python's *global* :mod:`random` generator, so a variation is
reproducible only if that generator is in a known state when it runs. :func:`seeded` puts it
in one (seeded from an integer) and restores the caller's state on exit, so a variation's
result depends only on its seed — not on what ran before in the process — and nothing the
variation draws leaks into later code. DEAP's GP module never touches numpy's global
generator (checked for DEAP 1.4.4; the tests assert it stays unchanged), and our own code
draws numpy numbers only from local ``numpy.random.Generator`` objects, so only
:mod:`random` is saved and restored.

The global generator is process-wide state: :func:`seeded` is not thread-safe. Evaluation
runs in separate processes (Ray workers), which is fine; don't vary in several threads of
one process at once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import contextmanager

SEED_BITS = 63
"""Derived seeds are in ``[0, 2**63)``: valid for :func:`random.seed`, numpy and int64."""


def check_seed(seed: int) -> int:
    """Return ``seed`` if it is a non-negative integer (not a bool).

    Negative seeds are refused because :func:`random.seed` folds ``-n`` onto ``n``.

    Raises:
        ValueError: Otherwise.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"a seed must be a non-negative integer, got {seed!r}")
    return seed


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with the global :mod:`random` generator seeded with ``seed``.

    The caller's generator state is saved on entry and restored on exit (also when the block
    raises), so the block sees the same random numbers whatever ran before, and code after
    the block sees the numbers it would have seen without it.

    Args:
        seed: A non-negative integer.

    Raises:
        ValueError: On a negative or non-integer seed.
    """
    check_seed(seed)
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)


def derive_seed(*parts: int | str | float | bytes) -> int:
    """A seed derived from ``parts`` (e.g. run seed, generation, index), the same everywhere.

    The parts are encoded with their types (so ``1`` and ``"1"`` differ) and hashed with
    sha256; the first 63 bits of the digest are the seed. Pure: no process state (unlike
    Python's salted ``hash()``), so every process derives the same seed.

    Args:
        parts: Integers, strings, floats or bytes.

    Returns:
        An integer in ``[0, 2**63)``.

    Raises:
        TypeError: On a part of another type.
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, int | str | float | bytes):
            raise TypeError(f"seed parts must be int, str, float or bytes, got {part!r}")
        if isinstance(part, bytes):
            encoded = b"b:" + part.hex().encode("ascii")
        else:
            encoded = f"{type(part).__name__}:{part!r}".encode()
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return int.from_bytes(digest.digest()[:8], "big") >> (64 - SEED_BITS)
