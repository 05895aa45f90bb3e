"""The guardian's fast path to the executor: a Ray compiled graph, with plain calls behind it.

A SIM step may need one round trip to the executor per bar where orders are submitted, and a
paced step's acknowledgement is one: an ordinary actor call costs ~1 ms here (much more on a
busy machine), a compiled graph's shared-memory channel ~0.3 ms. :class:`ExchangeChannel`
compiles ``executor.exchange_packed`` once and sends each exchange through it.

The channel is an optimisation, never a dependency. When it breaks (the executor died, froze
or was replaced) it is torn down in the background and the exchange goes through an ordinary
call, retried across the executor's restart by the
:class:`~actors.live.calls.ActorDirectory`; the channel is compiled again against the new
executor a little later. Application errors (the executor lost the step, a sequence error)
come through the channel as themselves. A guardian restart restarts the executor too (the
trading subtree is ``rest_for_one``), so an executor never stays bound to a dead guardian's
graph.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ray

from actors.live.calls import ActorDirectory
from core.errors import EvotraderError

REOPEN_AFTER_S = 1.0
"""Pause before compiling again after the channel broke."""


class ExchangeChannel:
    """Exchanges with one executor, through a compiled graph when it works.

    Args:
        directory: Named-actor calls with retries (the fallback path).
        executor: Ray name of the executor.
        timeout_s: Longest one exchange may take on the channel before it is given up.
        enabled: Use the compiled graph at all (False: plain calls only).
    """

    def __init__(self, directory: ActorDirectory, executor: str, timeout_s: float = 60.0,
                 enabled: bool = True) -> None:
        self._directory, self._executor = directory, executor
        self._timeout_s, self.enabled = timeout_s, enabled
        self._dag: Any = None
        self._reopen_at = 0.0
        self.channel_calls = 0
        self.plain_calls = 0
        self.failures: list[str] = []

    def call(self, args: tuple[Any, ...]) -> Any:
        """``executor.exchange(*args)``: on the channel if it is up, else a plain call.

        Raises:
            EvotraderError: The executor's own errors (lost step, sequence), as raised there.
            SessionError: The executor did not come back within the retry timeout.
        """
        if self._dag is None and self.enabled and time.monotonic() >= self._reopen_at:
            self._open()
        if self._dag is not None:
            try:
                reply = ray.get(self._dag.execute(args), timeout=self._timeout_s)
                self.channel_calls += 1
                return reply
            except EvotraderError:
                raise
            except Exception as exc:  # noqa: BLE001 - the channel broke: plain call below
                self._close(f"{type(exc).__name__}: {str(exc)[:200]}")
        self.plain_calls += 1
        return self._directory.call(self._executor, "exchange_packed", args)

    def _open(self) -> None:
        from ray.dag import InputNode

        try:
            handle = self._directory.handle(self._executor)
            with InputNode() as source:
                node = handle.exchange_packed.bind(source)
            self._dag = node.experimental_compile(_submit_timeout=self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - no channel: plain calls
            self._dag = None
            self._reopen_at = time.monotonic() + REOPEN_AFTER_S
            self._directory.forget(self._executor)
            self.failures.append(f"compile: {type(exc).__name__}: {str(exc)[:200]}")

    def _close(self, why: str) -> None:
        dag, self._dag = self._dag, None
        self.failures.append(why)
        self._reopen_at = time.monotonic() + REOPEN_AFTER_S
        self._directory.forget(self._executor)
        if dag is not None:  # a frozen peer can block a teardown: never wait for it
            threading.Thread(target=_teardown, args=(dag,), daemon=True,
                             name="exchange-channel-teardown").start()

    def close(self) -> None:
        """Tear the channel down (end of session, actor stop)."""
        dag, self._dag = self._dag, None
        if dag is not None:
            _teardown(dag)


def _teardown(dag: Any) -> None:
    try:
        dag.teardown()
    except Exception:  # noqa: BLE001 - nothing to do about a failed teardown
        return
