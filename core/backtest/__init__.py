"""Vectorised numba backtester: next-bar execution, costs, sizing, stops, funding."""
