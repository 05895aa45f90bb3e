"""Evaluation farm: score the engine's candidates as Ray tasks, results in candidate order.

The shared data (market arrays, configs) goes into the object store **once**, when the farm is
built; every task receives the same object ref. Candidates go out in batches of ``batch_size``
(one task per batch, at most ``workers`` tasks in flight) and come back in the order they were
asked, whatever order the tasks finish in. A genome's result is a pure function of the genome
and the data, so the results do not depend on ``workers`` or ``batch_size``.

Failure semantics (a genome never crashes the run):

* **Raises** — each genome is scored under ``try``: an exception becomes
  ``failure(genome_id, "<Type>: <message>")`` and the rest of the batch goes on.
* **Per-genome timeout** — inside the task each genome runs under a ``SIGALRM`` timer of
  ``timeout_s``; when it fires the genome is recorded as ``"timeout after <timeout_s>s"`` and
  the rest of the batch goes on. The timer interrupts Python code and sleeps, not a long call
  into C that never returns to the interpreter; for that, a **backstop** on the driver
  force-cancels (kills) a task still running ``timeout_s * len(batch) + grace_s`` seconds after
  it was submitted.
* **Worker or node lost** — Ray re-runs the task on another worker up to ``task_retries`` times
  (system failures only; ``retry_exceptions`` stays off since exceptions are caught per genome).
* **Whole batch lost** (retries exhausted, backstop kill, task-level error) — the batch is split
  and each of its genomes is sent again alone (with the same retries and backstop), so only the
  genome at fault is recorded as a failure (``"WorkerCrashedError: ..."``, ``"timeout ..."``).
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ray
from ray.exceptions import RayError

from core.dsl.nodes import Node
from core.errors import EvotraderError
from core.evolution.genome import Candidate, Evaluation, failure

ScoreFn = Callable[..., Evaluation]
"""``score_fn(node, data, **kwargs) -> Evaluation``: pure, picklable (module-level)."""

_MAX_ERROR_CHARS = 500


@dataclasses.dataclass(frozen=True)
class Spread:
    """Adapt a scorer taking several data arguments: ``fn(node, *data, **kwargs)``.

    ``EvaluationFarm((alpha_data, market, objective_cfg, backtest_cfg), Spread(score_genome))``
    shares the tuple once and calls ``score_genome(node, alpha_data, market, ...)`` per genome.
    """

    fn: ScoreFn

    def __call__(self, node: Node, data: Sequence[Any], **kwargs: Any) -> Evaluation:
        """Call the wrapped scorer with ``data`` spread as positional arguments."""
        return self.fn(node, *data, **kwargs)


@dataclasses.dataclass
class FarmStats:
    """Counters of one farm (cumulative over :meth:`EvaluationFarm.evaluate` calls)."""

    tasks: int = 0
    lost_tasks: int = 0
    backstop_kills: int = 0
    failed_genomes: int = 0


class _GenomeTimeout(BaseException):
    """Raised by the alarm; a BaseException so a scorer's ``except Exception`` cannot eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _GenomeTimeout


@contextmanager
def _alarm(timeout_s: float) -> Iterator[None]:
    """Raise :class:`_GenomeTimeout` in this thread after ``timeout_s`` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals need the main thread; the driver's backstop still applies
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


def _short(text: str) -> str:
    """First line of an error text, bounded in length."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:_MAX_ERROR_CHARS]


def score_one(score_fn: ScoreFn, genome_id: int, node: Node, data: Any,
              kwargs: dict[str, Any], timeout_s: float) -> Evaluation:
    """Score one genome; never raises (exceptions and timeouts become failures).

    Args:
        score_fn: ``score_fn(node, data, **kwargs) -> Evaluation``.
        genome_id: Stamped on the result, whatever id ``score_fn`` set.
        node: The expression.
        data: The shared data.
        kwargs: Extra keyword arguments for ``score_fn``.
        timeout_s: Per-genome time limit (seconds).

    Returns:
        The evaluation, or ``failure(genome_id, error)``.
    """
    try:
        with _alarm(timeout_s):
            result = score_fn(node, data, **kwargs)
    except _GenomeTimeout:
        return failure(genome_id, f"timeout after {timeout_s:g}s")
    except Exception as exc:  # the genome's fault, recorded, never fatal
        return failure(genome_id, _short(f"{type(exc).__name__}: {exc}"))
    if not isinstance(result, Evaluation):
        return failure(genome_id, f"TypeError: score_fn returned {type(result).__name__}, "
                                  "not Evaluation")
    if result.genome_id != genome_id:
        result = dataclasses.replace(result, genome_id=genome_id)
    return result


def _score_batch(score_fn: ScoreFn, data: Any, items: list[tuple[int, Node]],
                 kwargs: dict[str, Any], timeout_s: float) -> list[Evaluation]:
    """Task body: score a batch of ``(genome_id, node)`` in order."""
    return [score_one(score_fn, gid, node, data, kwargs, timeout_s) for gid, node in items]


_remote_batch = ray.remote(num_cpus=1)(_score_batch)


class EvaluationFarm:
    """Scores candidates as Ray tasks over data shared once through the object store.

    Args:
        data: Shared by every task (put into the object store once, here).
        score_fn: ``score_fn(node, data, **kwargs) -> Evaluation``; pure, picklable.
        workers: Most tasks in flight at once (at most the cluster's CPUs is sensible).
        batch_size: Candidates per task.
        timeout_s: Per-genome time limit, seconds.
        task_retries: Ray re-runs of a task whose worker or node died.
        grace_s: Backstop slack (task start-up, imports, queueing) added to the batch limit.

    Raises:
        EvotraderError: Ray is not connected, or an argument is out of range.
    """

    def __init__(self, data: Any, score_fn: ScoreFn, *, workers: int = 2, batch_size: int = 16,
                 timeout_s: float = 60.0, task_retries: int = 3, grace_s: float = 30.0) -> None:
        if workers < 1 or batch_size < 1 or task_retries < 0:
            raise EvotraderError("farm needs workers >= 1, batch_size >= 1, task_retries >= 0")
        if not timeout_s > 0 or grace_s < 0:
            raise EvotraderError("farm needs timeout_s > 0 and grace_s >= 0")
        if not ray.is_initialized():
            raise EvotraderError("Ray is not connected: call actors.research.ray_runtime."
                                 "connect() before building an EvaluationFarm")
        self.workers, self.batch_size = workers, batch_size
        self.timeout_s, self.task_retries, self.grace_s = timeout_s, task_retries, grace_s
        self.stats = FarmStats()
        self._score_fn = score_fn
        self._data_ref = ray.put(data)
        self._task = _remote_batch.options(max_retries=task_retries, retry_exceptions=False)

    @property
    def data_ref(self) -> ray.ObjectRef:
        """The object ref of the shared data (the same for every task of this farm)."""
        return self._data_ref

    def evaluate(self, candidates: Sequence[Candidate], **kwargs: Any) -> list[Evaluation]:
        """Score ``candidates``; the result list is in the same order.

        Args:
            candidates: What the engine asked for.
            **kwargs: Passed to every ``score_fn`` call (e.g. ``n_trials=...``).

        Returns:
            One evaluation per candidate, in candidate order; failures have ``ok=False``.
        """
        items = [(c.genome_id, c.node) for c in candidates]
        results: list[Evaluation | None] = [None] * len(items)
        queue = deque(tuple(range(start, min(start + self.batch_size, len(items))))
                      for start in range(0, len(items), self.batch_size))
        pending: dict[ray.ObjectRef, tuple[tuple[int, ...], float]] = {}
        while queue or pending:
            while queue and len(pending) < self.workers:
                job = queue.popleft()
                ref = self._task.remote(self._score_fn, self._data_ref,
                                        [items[i] for i in job], kwargs, self.timeout_s)
                limit = self.timeout_s * len(job) + self.grace_s
                pending[ref] = (job, time.monotonic() + limit)
                self.stats.tasks += 1
            wait_s = max(0.0, min(d for _, d in pending.values()) - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            for ref in ready:
                job, _ = pending.pop(ref)
                self._collect(ref, job, items, results, queue)
            now = time.monotonic()
            for ref, (job, deadline) in list(pending.items()):
                if deadline <= now:
                    del pending[ref]
                    ray.cancel(ref, force=True)
                    self.stats.backstop_kills += 1
                    self._lost(job, f"timeout after {self.timeout_s:g}s", items, results, queue)
        missing = [items[i][0] for i, r in enumerate(results) if r is None]
        if missing:  # cannot happen: every job ends in _collect or _lost
            raise EvotraderError(f"farm lost the results of genomes {missing[:10]}")
        return [r for r in results if r is not None]

    def _collect(self, ref: ray.ObjectRef, job: tuple[int, ...], items: list[tuple[int, Node]],
                 results: list[Evaluation | None], queue: deque[tuple[int, ...]]) -> None:
        """Store a finished task's evaluations, or handle the lost batch."""
        try:
            evaluations = ray.get(ref)
        except RayError as exc:
            self.stats.lost_tasks += 1
            self._lost(job, _short(f"{type(exc).__name__}: {exc}"), items, results, queue)
            return
        for index, evaluation in zip(job, evaluations, strict=True):
            results[index] = evaluation
            self.stats.failed_genomes += not evaluation.ok

    def _lost(self, job: tuple[int, ...], error: str, items: list[tuple[int, Node]],
              results: list[Evaluation | None], queue: deque[tuple[int, ...]]) -> None:
        """A whole batch failed: retry its genomes one by one, or record the lone genome."""
        if len(job) > 1:
            queue.extend((index,) for index in job)
            return
        (index,) = job
        results[index] = failure(items[index][0], error)
        self.stats.failed_genomes += 1
