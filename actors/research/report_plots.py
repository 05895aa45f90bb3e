"""Pictures of an evolution run: the MAP-Elites archive as heatmaps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def archive_heatmap(path: Path, measures: np.ndarray, objectives: np.ndarray, *,
                    bins: Sequence[int], ranges: Sequence[tuple[float, float]],
                    names: Sequence[str], title: str) -> None:
    """Write a PNG with the best objective per cell, projected on each pair of descriptors.

    Args:
        path: Output file.
        measures: Elite descriptors, shape ``(n_elites, 3)``.
        objectives: Elite objectives, shape ``(n_elites,)``.
        bins: Cells per descriptor axis.
        ranges: ``(low, high)`` per axis.
        names: Axis labels.
        title: Figure title.
    """
    pairs = [(0, 1), (0, 2), (1, 2)]
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
    finite = objectives[np.isfinite(objectives)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    image = None
    for axis, (x, y) in zip(axes, pairs, strict=True):
        grid = np.full((bins[y], bins[x]), np.nan)
        for point, value in zip(measures, objectives, strict=True):
            i = _cell(point[x], bins[x], ranges[x])
            j = _cell(point[y], bins[y], ranges[y])
            if np.isnan(grid[j, i]) or value > grid[j, i]:
                grid[j, i] = value
        image = axis.imshow(grid, origin="lower", aspect="auto", cmap="RdYlGn",
                            vmin=-vmax, vmax=vmax,
                            extent=(*ranges[x], *ranges[y]))
        axis.set_xlabel(names[x])
        axis.set_ylabel(names[y])
    if image is not None:
        figure.colorbar(image, ax=list(axes), label="best objective in the cell")
    figure.suptitle(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _cell(value: float, bins: int, bounds: tuple[float, float]) -> int:
    low, high = bounds
    position = (value - low) / (high - low) * bins
    return int(min(max(np.floor(position), 0), bins - 1))
