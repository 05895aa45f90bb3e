"""Numba kernels that evaluate the DSL's operators, and their dispatch table.

The evaluator holds each series as a float64 ``(bars, symbols)`` matrix in column-major
order and calls ``KERNELS[name](inputs, window, scalars, out)`` (see
:mod:`core.dsl.kernels.dispatch`). The kernels themselves (``elementwise``, ``rolling``,
``extremes``, ``rank``, ``cross_section``) are ``@njit(cache=True, nogil=True)`` functions
over the transposed ``(symbols, bars)`` views; they write into caller-provided buffers and
never allocate a result.
"""

from core.dsl.kernels.dispatch import ALIAS_SAFE, KERNELS, Kernel

__all__ = ["ALIAS_SAFE", "KERNELS", "Kernel"]
