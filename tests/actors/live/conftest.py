"""Fixtures of the live-actor tests."""

from __future__ import annotations

import pytest

from tests.actors.live.sessions import Baselines


@pytest.fixture(scope="session")
def baselines(tmp_path_factory, shared_data, ray_session) -> Baselines:
    """Undisturbed session runs, each run once per test session (see :class:`Baselines`)."""
    return Baselines(tmp_path_factory.mktemp("baselines"), shared_data)

