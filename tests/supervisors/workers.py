"""Real Ray actors and factories for the supervision tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

import ray

from supervisors import DONE


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=4)
class Worker:
    """A supervised test actor: answers pings, can hang, finish, exit or be killed."""

    def __init__(self, name: str, journal: str | None = None, stop_delay_s: float = 0.0):
        self.name = name
        self.journal = journal
        self.stop_delay_s = stop_delay_s
        self.hung = False
        self.done = False

    def ping(self):
        while self.hung:
            time.sleep(0.05)
        return DONE if self.done else "ok"

    def pid(self) -> int:
        return os.getpid()

    def echo(self, value):
        return value

    def watch(self, timeout_s: float) -> str:
        time.sleep(timeout_s)
        return "ok"

    def hang(self) -> None:
        self.hung = True

    def finish(self) -> None:
        self.done = True

    def quit(self) -> None:
        ray.actor.exit_actor()

    def stop(self) -> None:
        time.sleep(self.stop_delay_s)
        if self.journal:
            with open(self.journal, "a") as out:
                out.write(f"{self.name}\n")


class WorkerFactory:
    """Creates a detached, named Worker; the supervisor calls it with the actor name."""

    def __init__(self, namespace: str, journal: Path | None = None, stop_delay_s: float = 0.0,
                 fail_first: int = 0):
        self.namespace = namespace
        self.journal = str(journal) if journal else None
        self.stop_delay_s = stop_delay_s
        self.fail_first = fail_first
        self.calls = 0

    def __call__(self, name: str):
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError(f"factory failure #{self.calls} (test)")
        return Worker.options(name=name, namespace=self.namespace, lifetime="detached").remote(
            name.rsplit("/", 1)[-1], self.journal, self.stop_delay_s
        )


@ray.remote(num_cpus=0, max_restarts=0)
class Collector:
    """An event sink actor: ``sink=collector.record``."""

    def __init__(self):
        self.received = []

    def record(self, event) -> None:
        self.received.append(event)

    def events(self):
        return list(self.received)
