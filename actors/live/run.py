"""``python -m actors.main`` in SIM: plan, start the tree, step, finish, summarise."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable
from pathlib import Path

import ray

from actors.adapters.session_store import SessionStore
from actors.live.session import (
    SessionResult,
    SessionRunner,
    install_signal_handlers,
    new_session_id,
    plan_session,
)
from actors.live.session_files import build_summary
from actors.research.ray_runtime import RayHandle, connect
from configs.app import AppConfig
from configs.loader import LoadedConfig
from core.errors import EvotraderError, UsageError

GCS_TASK_EVENTS_ENV = "RAY_task_events_max_num_task_in_gcs"
GCS_TASK_EVENTS = 10_000
"""Task events a local Ray keeps (Ray's default 100,000 costs hundreds of MB in the GCS)."""


def connect_cluster(config: AppConfig) -> RayHandle:
    """Join the configured cluster, else a running local one, else start a local Ray.

    A local Ray binds to loopback with the dashboard on 127.0.0.1:8265.
    """
    ray_cfg = config.ray
    if ray.is_initialized():  # reuse this process's connection (tests, scripts)
        return connect(None, namespace=ray_cfg.namespace)
    if ray_cfg.address not in (None, "local"):
        return connect(ray_cfg.address, namespace=ray_cfg.namespace)
    if ray_cfg.address is None:
        with contextlib.suppress(EvotraderError):
            return connect("auto", namespace=ray_cfg.namespace)
    memory = (ray_cfg.object_store_memory_mb * 1024 * 1024
              if ray_cfg.object_store_memory_mb else None)
    # Ray keeps the events of the last 100,000 tasks in the GCS for the dashboard; a session
    # makes ~10 actor calls per step, so that store is what grows in a long session.
    os.environ.setdefault(GCS_TASK_EVENTS_ENV, str(GCS_TASK_EVENTS))
    return connect(None, num_cpus=ray_cfg.num_cpus, object_store_memory=memory,
                   namespace=ray_cfg.namespace, include_dashboard=True)


def run_session(loaded: LoadedConfig, *, session_id: str | None = None,
                on_step: Callable[[int, SessionResult], None] | None = None,
                quiet: bool = False) -> SessionResult:
    """Run one SIM session end to end and write its folder.

    Args:
        loaded: The configuration (``[session]``, ``[data]``, ``[strategy]``, ...).
        session_id: Folder/session id (default: time + config id).
        on_step: Hook called after every step (chaos tests).
        quiet: Do not print the summary.

    Raises:
        UsageError: Bad configuration for a session (mode, data, window).
        SessionError: An actor stayed down past the retry timeout.
    """
    config = loaded.config
    if config.app.mode != "sim":
        raise UsageError(f"mode {config.app.mode!r} is not available yet: this release runs "
                         "SIM sessions only (set [app] mode = \"sim\" or --mode sim)")
    session_id = session_id or new_session_id(loaded.config_id)
    folder = Path(config.session.sessions_dir) / session_id
    expected = (ray.get_runtime_context().namespace if ray.is_initialized()
                else config.ray.namespace)
    plan = plan_session(loaded, session_id, folder.resolve(), expected)  # data errors first
    handle = connect_cluster(config)
    try:
        namespace = ray.get_runtime_context().namespace
        if namespace != plan.inputs.namespace:
            plan.inputs = dataclasses.replace(plan.inputs, namespace=namespace)
        folder.mkdir(parents=True, exist_ok=True)
        runner = SessionRunner(loaded, plan, folder.resolve(), on_step=on_step)
        restore = install_signal_handlers(runner)
        try:
            if not quiet:
                print(f"session {session_id}: {len(plan.timeline):,} bars x "
                      f"{len(config.data.symbols)} symbols, strategy {config.strategy.name}, "
                      f"{len(config.session.candidates)} candidates; actors in Ray namespace "
                      f"{namespace!r}; folder {folder}", flush=True)
            runner.start_tree()
            result = runner.run()
            runner.finish()
            _summarise(runner, loaded, plan.data_labels, result)
        finally:
            runner.stop_tree()
            restore()
    finally:
        handle.shutdown()
    if not quiet:
        print((folder / "session.md").read_text())
    return result


def _summarise(runner: SessionRunner, loaded: LoadedConfig, labels: dict[str, str],
               result: SessionResult) -> None:
    config = loaded.config
    info = {"config id": loaded.config_id, "mode": config.app.mode,
            "strategy": f"{config.strategy.name} {dict(config.strategy.params)}",
            "stopped because": result.stop_reason, "steps": str(result.steps),
            "bars replayed": f"{result.bars:,}",
            "throughput": f"{result.bars / result.elapsed_s:,.0f} bars/s"
            if result.elapsed_s > 0 else "n/a",
            "calls retried": ", ".join(f"{k.rsplit('/', 1)[-1]} {v}" for k, v in
                                       sorted(result.retries.items())) or "none"}
    data = {s: label for s, label in labels.items()}
    names = runner.plan.names
    runner.directory.call(names.store, "write_summary", str(runner.folder),
                          runner.plan.inputs.session_id, "live",
                          initial_equity=config.backtest.initial_cash, info=info, data=data)
    runner.directory.call(names.store, "flush")
    store = SessionStore(runner.folder / "session.sqlite")
    try:
        lines = ["", "## Candidates (paper, same feed and fill model)", "",
                 "| candidate | PnL | PnL % | max drawdown % | fills | denials |",
                 "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for book in sorted(b for b in store.books() if b.startswith("candidate:")):
            s = build_summary(store, runner.plan.inputs.session_id, book,
                              initial_equity=config.backtest.initial_cash)
            pct = "n/a" if math.isnan(s.pnl_pct) else f"{s.pnl_pct:.2f}"
            dd = "n/a" if math.isnan(s.max_drawdown_pct) else f"{s.max_drawdown_pct:.2f}"
            lines.append(f"| {book.split(':', 1)[1]} | {s.pnl:,.2f} | {pct} | {dd} | "
                         f"{s.fills} | {sum(n for _, n in s.denials)} |")
    finally:
        store.close()
    path = runner.folder / "session.md"
    path.write_text(path.read_text() + "\n".join(lines) + "\n")
