"""Shared fixtures: repository paths and the real market data beside the checkout."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _numba_cache_for_sources() -> Path:
    """A numba cache folder keyed by the content of every source under ``core/``.

    numba's ``cache=True`` only notices edits to the file of the cached function itself, not
    to the jitted helpers it inlines from other modules; keying the folder by all sources
    guarantees the tests never run a stale kernel.
    """
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "core").rglob("*.py")):
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return REPO_ROOT / ".numba_cache" / digest.hexdigest()[:16]


def _use_fresh_numba_cache() -> None:
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    current = _numba_cache_for_sources()
    for stale in current.parent.glob("*"):
        if stale != current and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = str(current)


# Set before anything imports numba (conftest runs before the test modules are imported).
_use_fresh_numba_cache()


def shared_data_path() -> Path:
    """Where the real Binance data lives: ``$EVOTRADER_SHARED_DATA`` or ``../shared/data``."""
    configured = os.environ.get("EVOTRADER_SHARED_DATA")
    return Path(configured) if configured else (REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder. Missing data is a failure, never a skip."""
    path = shared_data_path()
    if not (path / "ohlcv").is_dir():
        pytest.fail(f"real market data not found at {path}; set EVOTRADER_SHARED_DATA")
    return path


RAY_TEST_CPUS = 2
RAY_TEST_OBJECT_STORE = 200 * 1024 * 1024


def _fill_numba_cache() -> None:
    """Compile the trading kernels once here, before any actor starts.

    On a fresh checkout the numba cache is empty: without this, every actor of the first
    session (slot, guardian, executor, candidates) would compile the same kernels at once.
    """
    from actors.live.plan import strategy_choice
    from configs.app import AppConfig
    from core.trading.warmup import warm_up_strategy, warm_up_trading

    config = AppConfig()
    symbols = ("BTC/USDT", "ETH/USDT")
    warm_up_trading(config.backtest, symbols, 3_600_000, config.risk.effective())
    for name in ("momentum", "mean_reversion"):
        warm_up_strategy(strategy_choice(name, name, {}), symbols, 3_600_000)


@pytest.fixture(scope="session")
def ray_session():
    """ONE local Ray for the whole test session: 127.0.0.1, 2 CPUs, 200 MB store, no dashboard.

    Starting Ray costs ~7-11 s and ~0.6 GB, so tests share it; it is shut down at session end.
    Yields the :class:`actors.research.ray_runtime.RayHandle`.
    """
    from actors.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET
    from actors.research.ray_runtime import connect

    _fill_numba_cache()
    # The cluster's processes hold the emulator's test key in their environment, as an
    # operator's `ray start` holds the venue key; this test process does not.
    keys = {"EVOTRADER_EXCHANGE_API_KEY": DEFAULT_API_KEY,
            "EVOTRADER_EXCHANGE_API_SECRET": DEFAULT_API_SECRET}
    saved = {name: os.environ.get(name) for name in keys}
    os.environ.update(keys)
    try:
        handle = connect(
            None,
            num_cpus=RAY_TEST_CPUS,
            object_store_memory=RAY_TEST_OBJECT_STORE,
            namespace="evotrader-tests",
            include_dashboard=False,
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture(autouse=True)
def no_tree_left_behind(request):
    """After each test, remove a session tree the test left in the tests' namespace.

    A test that fails half-way (or a session that gave up) must not make every later test
    find "a session is already running": the failure stays its own.
    """
    yield
    if "ray_session" not in request.fixturenames and "baselines" not in request.fixturenames:
        return  # the tests' shared Ray only
    import ray

    from actors.live.tree_handle import root_supervisor, stop_tree

    if not ray.is_initialized():
        return
    namespace = ray.get_runtime_context().namespace
    if root_supervisor(namespace) is not None:
        stop_tree(namespace)
