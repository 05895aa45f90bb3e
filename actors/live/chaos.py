"""Chaos monkey: kill random actors of a running session, as a test of supervision.

A background thread kills, at seeded random moments, seeded random actors of the session —
feeds, slot, candidates, risk guardian, executor, store — either with ``ray.kill`` or with
``SIGKILL`` to the actor's worker process. Each kill is recorded with the time it happened
and the time the actor answered again under its name (its restored service).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import ray

POLL_S = 0.02


@dataclass
class Kill:
    """One kill.

    Attributes:
        actor: Ray name of the victim.
        method: ``"ray.kill"`` or ``"SIGKILL"``.
        at: Wall time of the kill (``time.time()``).
        restored_s: Seconds until an actor with that name answered ``ping`` again (None if
            it did not within the wait).
        old_pid: Worker pid of the victim.
        new_pid: Worker pid of its replacement.
    """

    actor: str
    method: str
    at: float
    restored_s: float | None = None
    old_pid: int = 0
    new_pid: int = 0


@dataclass
class ChaosMonkey:
    """Kills ``kills`` actors among ``targets``, one every ``interval_s`` (jittered).

    Args:
        targets: Ray names of the actors that may be killed.
        namespace: Their namespace.
        kills: How many kills.
        interval_s: Mean pause between kills.
        seed: Seed of the choice of victims, methods and pauses.
        restore_timeout_s: How long to wait for a victim to come back before the next kill.
    """

    targets: Sequence[str]
    namespace: str
    kills: int = 10
    interval_s: float = 1.0
    seed: int = 7
    restore_timeout_s: float = 60.0
    done: list[Kill] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)

    def start(self) -> ChaosMonkey:
        """Start killing in the background."""
        self._thread.start()
        return self

    def stop(self) -> list[Kill]:
        """Stop (after the kill in progress) and return the kills done."""
        self._stop.set()
        self._thread.join(timeout=self.restore_timeout_s + 5)
        return self.done

    def _run(self) -> None:
        while len(self.done) < self.kills and not self._stop.is_set():
            if self._stop.wait(self.interval_s * (0.5 + self._rng.random())):
                return
            name = self._rng.choice(list(self.targets))
            method = self._rng.choice(("ray.kill", "SIGKILL"))
            try:
                self.done.append(self.kill(name, method))
            except Exception as exc:  # noqa: BLE001 - record and go on: chaos must not stop
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    def kill(self, name: str, method: str) -> Kill:
        """Kill ``name`` now and wait until it serves again."""
        handle = ray.get_actor(name, namespace=self.namespace)
        pid = int(ray.get(handle.pid.remote(), timeout=30))
        at = time.time()
        if method == "SIGKILL":
            os.kill(pid, signal.SIGKILL)
        else:
            ray.kill(handle, no_restart=True)
        record = Kill(name, method, at, old_pid=pid)
        deadline = time.monotonic() + self.restore_timeout_s
        while time.monotonic() < deadline:
            try:
                fresh = ray.get_actor(name, namespace=self.namespace)
                new_pid = int(ray.get(fresh.pid.remote(), timeout=1.0))
                if new_pid != pid:
                    record.restored_s, record.new_pid = time.time() - at, new_pid
                    break
            except Exception:  # noqa: BLE001 - not back yet
                pass
            time.sleep(POLL_S)
        return record
