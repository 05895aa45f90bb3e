"""Helpers shared by the farm tests (importable by Ray workers: the repo root is on their path).

``DemoScorer`` is a pure, deterministic stand-in for ``score_genome`` with switches that make
chosen genomes raise, hang, ignore the alarm or kill their own worker process.
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.dsl import depth, random_trees, size, structural_hash, to_text
from core.dsl.nodes import Node
from core.evolution.genome import Candidate, Evaluation


def make_candidates(count: int, *, seed: int = 7, first_id: int = 100) -> list[Candidate]:
    """``count`` random candidates with ids ``first_id, first_id + 1, ...``."""
    out = []
    for offset, node in enumerate(random_trees(seed, count)):
        out.append(Candidate(genome_id=first_id + offset, node=node, text=to_text(node),
                             hash=structural_hash(node), parents=(), generation=0,
                             operator="random"))
    return out


def make_data(n: int = 1000) -> np.ndarray:
    """The shared data of the demo scorer."""
    return np.linspace(0.0, 1.0, n)


@dataclass(frozen=True)
class DemoScorer:
    """Pure demo scoring ``(node, data) -> Evaluation``, with fault switches keyed by text.

    Attributes:
        fail_on: Texts whose scoring raises ``ValueError``.
        sleep_on: Texts whose scoring sleeps ``hang_s`` (interruptible by the alarm).
        stubborn_on: Texts that ignore ``SIGALRM`` and then sleep ``hang_s`` (backstop only).
        crash_on: Texts whose scoring SIGKILLs its own worker process.
        crash_once_dir: With ``crash_on``: crash only the first time (marker file per text).
        jitter_s: Random extra sleep before scoring (shuffles completion order; no effect on
            the result).
        work_s: Fixed sleep per genome (to make runs last long enough to interrupt).
        trace_dir: When set, each scoring start leaves a file ``<hash>-<pid>-<ns>`` there.
        hang_s: How long a hanging genome sleeps.
    """

    fail_on: tuple[str, ...] = ()
    sleep_on: tuple[str, ...] = ()
    stubborn_on: tuple[str, ...] = ()
    crash_on: tuple[str, ...] = ()
    crash_once_dir: str | None = None
    jitter_s: float = 0.0
    work_s: float = 0.0
    trace_dir: str | None = None
    hang_s: float = 60.0

    def __call__(self, node: Node, data: np.ndarray, *, scale: float = 1.0) -> Evaluation:
        text, digest = to_text(node), structural_hash(node)
        if self.trace_dir is not None:
            Path(self.trace_dir, f"{digest}-{os.getpid()}-{time.monotonic_ns()}").touch()
        if self.jitter_s:
            time.sleep(random.uniform(0.0, self.jitter_s))
        if self.work_s:
            time.sleep(self.work_s)
        if text in self.crash_on:
            self._crash(digest)
        if text in self.fail_on:
            raise ValueError(f"bad genome {text}")
        if text in self.sleep_on:
            time.sleep(self.hang_s)
        if text in self.stubborn_on:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            time.sleep(self.hang_s)
        u = int(digest[:12], 16) / 16**12
        objective = scale * (u - 0.5) * float(data.sum())
        measures = (u, size(node) / 10.0, depth(node) / 10.0)
        return Evaluation(genome_id=-1, ok=True, objective=objective, measures=measures,
                          metrics={"size": float(size(node)), "u": u},
                          folds=({"sharpe": u, "bars": float(len(data))},), error=None)

    def _crash(self, digest: str) -> None:
        if self.crash_once_dir is not None:
            marker = Path(self.crash_once_dir, f"crashed-{digest}")
            if marker.exists():
                return
            marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)


def as_comparable(evaluations: list[Evaluation]) -> list[str]:
    """Evaluations as exact, NaN-safe strings (``repr`` prints floats round-trip exactly)."""
    return [repr(evaluation) for evaluation in evaluations]
