"""The Ray classes of the live actors are thin shells: cheap to import, complete."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

from actors.live.shells import SHELLS

HEAVY = ("numba", "pandas", "pyarrow", "core.backtest", "core.trading")


@pytest.mark.parametrize("shell", SHELLS, ids=lambda s: s.__name__)
def test_each_shell_forwards_exactly_its_services_public_methods(shell):
    module_name, class_name = shell.service.split(":")
    service = getattr(importlib.import_module(module_name), class_name)
    public = {name for name, value in inspect.getmembers(service)
              if not name.startswith("_") and callable(value)}
    assert set(shell.methods) == public
    for name in shell.methods:
        assert callable(getattr(shell, name))
    # every threaded shell carries its supervisor's death watch; the one-call store does not
    assert hasattr(shell, "watch") == (shell.__name__ != "StoreShell")


def test_the_shells_module_imports_none_of_the_services_dependencies():
    # Ray loads an actor's class wherever a handle to it is obtained: a restarted actor
    # looking its peers up must not import numba, pandas or pyarrow for that.
    code = ("import sys, actors.live.shells; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
            f"or m.startswith({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_a_shell_builds_its_service_and_forwards_to_it(tmp_path):
    from actors.live.shells import ControlShell  # type: ignore[attr-defined]

    control = ControlShell("session-x")
    assert control.ping() == "ok"
    control.request_stop("operator")
    assert control.stop_requested() == "operator"
