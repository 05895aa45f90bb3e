"""Package names imported on first use (PEP 562).

A package lists ``name -> module`` and gets its ``__getattr__`` and ``__dir__`` from
:func:`lazy_exports`: a process that needs one name (an actor unpickling its settings, a
trading actor that runs a built-in strategy) does not import every module of the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for the package whose globals are ``namespace``.

    Args:
        namespace: The package's ``globals()``; a name is stored there once imported.
        exports: Name -> module holding it, absolute (``core.dsl.parser``) or relative to the
            package (``parser``).

    Returns:
        The package's ``__getattr__`` and ``__dir__``.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if module.startswith(f"{package}.") else f"{package}.{module}"
        value = getattr(importlib.import_module(full), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the PEP 562 hook
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
