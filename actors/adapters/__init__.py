"""Adapters: the only importers of their outside libraries (ccxt, pyarrow, structlog, ...).

Each adapter translates its library's errors into :mod:`core.errors` types at the boundary.
"""
