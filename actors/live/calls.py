"""Calls to named actors that survive the actor being killed and restarted.

A supervised actor can die at any moment; its supervisor starts a new one under the same
name. :class:`ActorDirectory` resolves names lazily and :meth:`ActorDirectory.call` retries a
call on the new actor until it answers or the timeout passes. Every step of the session is
idempotent (keyed by its sequence number), so a retry never does anything twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError

from core.errors import EvotraderError

RETRYABLE = (RayActorError, ActorDiedError, ActorUnavailableError, GetTimeoutError)
RETRY_PAUSE_S = 0.05


class SequenceError(EvotraderError):
    """A step arrived out of order (neither the next one nor a retry of a recent one)."""


class SessionError(EvotraderError):
    """The session cannot go on (an actor stayed unavailable past the retry timeout)."""

    exit_code = 1


class ActorDirectory:
    """Named actors of one session, looked up again after a failure.

    Args:
        namespace: Ray namespace of the actors.
        timeout_s: How long a call keeps retrying before :class:`SessionError`.
        on_retry: Called with (actor name, error) each time a call is retried.
        call_timeout_s: How long one attempt may take before it is sent again (None: no
            limit). A stuck actor fails its heartbeat and is replaced by its supervisor; the
            attempt sent again then reaches the successor.
    """

    def __init__(self, namespace: str, timeout_s: float,
                 on_retry: Callable[[str, BaseException], None] | None = None,
                 call_timeout_s: float | None = None) -> None:
        self.namespace = namespace
        self.timeout_s = timeout_s
        self.call_timeout_s = call_timeout_s
        self._handles: dict[str, Any] = {}
        self._on_retry = on_retry
        self.retries: dict[str, int] = {}

    def handle(self, name: str) -> Any:
        """The current handle of ``name`` (looked up once, then cached)."""
        if name not in self._handles:
            self._handles[name] = ray.get_actor(name, namespace=self.namespace)
        return self._handles[name]

    def forget(self, name: str) -> None:
        """Drop the cached handle (the actor died)."""
        self._handles.pop(name, None)

    def call(self, name: str, method: str, *args: Any, timeout_s: float | None = None,
             **kwargs: Any) -> Any:
        """``ray.get(actor.method.remote(*args, **kwargs))``, retried across restarts.

        Raises:
            SessionError: The actor did not answer within the timeout.
        """
        return self.call_many([(name, method, args, kwargs)], timeout_s=timeout_s)[0]

    def call_many(self, calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]],
                  timeout_s: float | None = None) -> list[Any]:
        """Several calls in parallel; the failed ones are retried until they all answered."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        while pending:
            refs: dict[int, Any] = {}
            failed: list[int] = []
            for index in pending:
                name, method, args, kwargs = calls[index]
                try:
                    refs[index] = getattr(self.handle(name), method).remote(*args, **kwargs)
                except (ValueError, *RETRYABLE) as exc:  # ValueError: name not (yet) there
                    self._note(name, exc)
                    failed.append(index)
            for index, ref in refs.items():
                try:
                    results[index] = ray.get(ref, timeout=self.call_timeout_s)
                except RETRYABLE as exc:
                    self._note(calls[index][0], exc)
                    failed.append(index)
            pending = sorted(failed)
            if pending:
                if time.monotonic() > deadline:
                    names = ", ".join(sorted({calls[i][0] for i in pending}))
                    raise SessionError(f"actors did not come back within the retry timeout: "
                                       f"{names}")
                time.sleep(RETRY_PAUSE_S)
        return results

    def _note(self, name: str, error: BaseException) -> None:
        self.forget(name)
        self.retries[name] = self.retries.get(name, 0) + 1
        if self._on_retry is not None:
            self._on_retry(name, error)


def call_named(name: str, namespace: str, method: str, *args: Any,
               timeout_s: float = 60.0, **kwargs: Any) -> Any:
    """One call to the named actor ``name``, retried across its restarts.

    For calls between actors: the guardian calling the executor, a strategy warming up
    from the feeds.

    Raises:
        SessionError: The actor did not answer within ``timeout_s``.
    """
    return ActorDirectory(namespace, timeout_s).call(name, method, *args, **kwargs)


Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]


class Pending:
    """Calls sent with :meth:`ActorDirectory.submit`; :meth:`result` waits (and retries)."""

    def __init__(self, directory: ActorDirectory, calls: list[Call], refs: list[Any]) -> None:
        self._directory, self._calls, self._refs = directory, calls, refs
        self._settled: set[int] = set()

    def settle(self) -> bool:
        """Look at the answers that arrived, without waiting; True once all have.

        A call that failed because its actor died drops the directory's handle, so the next
        call reaches the successor (nothing else would notice for a call never waited on).
        """
        open_ = [i for i, ref in enumerate(self._refs) if ref is not None
                 and i not in self._settled]
        if not open_:
            return True
        ready, _ = ray.wait([self._refs[i] for i in open_], num_returns=len(open_), timeout=0)
        arrived = {id(ref) for ref in ready}
        for index in open_:
            if id(self._refs[index]) not in arrived:
                continue
            self._settled.add(index)
            try:
                ray.get(self._refs[index], timeout=0)
            except RETRYABLE as exc:
                self._directory._note(self._calls[index][0], exc)
            except Exception:  # noqa: BLE001, S110 - the callee's own error, not a dead actor
                pass
        return len(ready) == len(open_)

    def result(self, timeout_s: float | None = None) -> list[Any]:
        """The answers in call order; calls whose actor died are retried on its successor."""
        results: list[Any] = [None] * len(self._calls)
        failed = []
        for index, ref in enumerate(self._refs):
            if ref is None:
                failed.append(index)
                continue
            try:
                results[index] = ray.get(ref, timeout=self._directory.call_timeout_s)
            except RETRYABLE as exc:
                self._directory._note(self._calls[index][0], exc)
                failed.append(index)
        if failed:
            again = self._directory.call_many([self._calls[i] for i in failed], timeout_s)
            for index, value in zip(failed, again, strict=True):
                results[index] = value
        return results


def submit(directory: ActorDirectory, calls: list[Call]) -> Pending:
    """Send ``calls`` without waiting; collect them later with :meth:`Pending.result`."""
    refs: list[Any] = []
    for name, method, args, kwargs in calls:
        try:
            refs.append(getattr(directory.handle(name), method).remote(*args, **kwargs))
        except (ValueError, *RETRYABLE) as exc:
            directory._note(name, exc)
            refs.append(None)
    return Pending(directory, calls, refs)
