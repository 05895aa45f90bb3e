"""Ray actors and the adapters that own I/O (exchange, store, clock, LLM, HTTP)."""

from actors.numba_cache import configure as _configure_numba_cache

_configure_numba_cache()
