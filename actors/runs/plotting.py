"""The equity and drawdown chart of a run (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def plot_equity(path: Path, timestamps_ms: np.ndarray, equity: np.ndarray,
                benchmark: np.ndarray, title: str) -> None:
    """Write a PNG with equity (and buy-and-hold) on top and drawdown below.

    Args:
        path: Output file.
        timestamps_ms: Bar open times.
        equity: Strategy equity per bar.
        benchmark: Buy-and-hold equity per bar.
        title: Chart title.
    """
    times = timestamps_ms.astype("datetime64[ms]")
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                         gridspec_kw={"height_ratios": [3, 1]})
    top.plot(times, equity, label="strategy", linewidth=1.2, color="#1f5fa8")
    top.plot(times, benchmark, label="buy & hold", linewidth=0.9, color="#999999")
    top.set_ylabel("equity (quote)")
    top.set_title(title)
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(times, drawdown * 100.0, 0.0, color="#c0392b", alpha=0.5)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
