"""Console output of runs: the headline metrics next to buy-and-hold."""

from __future__ import annotations

from pathlib import Path

SUMMARY = (("total_return", "total return", True), ("cagr", "CAGR", True),
           ("sharpe", "Sharpe", False), ("max_drawdown", "max drawdown", True),
           ("trades", "trades", False), ("hit_rate", "hit rate", True),
           ("exposure", "exposure", True))


def _show(value: float | None, pct: bool) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value * 100:.2f}%" if pct else f"{value:.3f}"


def print_summary(folder: Path, metrics: dict[str, float], bench: dict[str, float]) -> None:
    """Print the headline metrics of a run next to buy-and-hold, then the run folder."""
    print(f"{'':16}{'strategy':>12}{'buy&hold':>12}")
    for key, label, pct in SUMMARY:
        print(f"{label:16}{_show(metrics.get(key), pct):>12}{_show(bench.get(key), pct):>12}")
    print(f"run folder: {folder}")
