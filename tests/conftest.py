"""Shared fixtures: repository paths and the real market data beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
