"""core/ stays pure: no Ray, ccxt, network, database, logging, file I/O or wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"

FORBIDDEN_MODULES = {
    "ray", "ccxt", "socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "aiohttp",
    "websocket", "websockets", "sqlite3", "sqlalchemy", "psycopg", "psycopg2", "asyncpg",
    "redis", "pymongo", "logging", "structlog", "loguru", "anthropic", "llama_cpp", "subprocess",
    "pyarrow", "shutil", "tempfile", "glob", "multiprocessing", "threading", "asyncio", "os",
    "pathlib", "io", "pickle", "ribs_io",
}
# Calls that read the wall clock or touch files, as dotted suffixes of the called name.
FORBIDDEN_CALLS = {
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.sleep", "time.localtime", "time.gmtime", "datetime.now",
    "datetime.utcnow", "datetime.today", "date.today", "open", "np.load", "np.save",
    "np.savez", "np.loadtxt", "np.savetxt", "np.fromfile", "pd.read_csv", "pd.read_parquet",
    "pd.read_feather", "pd.read_json", "input", "print", "eval", "exec",
}
FORBIDDEN_ATTRIBUTE_CALLS = {"to_csv", "to_parquet", "to_feather", "to_json", "tofile",
                             "read_text", "write_text", "read_bytes", "write_bytes"}


def dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def violations(source: str, filename: str) -> list[str]:
    """Every forbidden import or call in ``source``, as ``file:line: reason``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        else:
            names = []
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{filename}:{node.lineno}: imports {name}")
        if isinstance(node, ast.Call):
            called = dotted(node.func)
            if any(called == c or called.endswith("." + c) for c in FORBIDDEN_CALLS):
                found.append(f"{filename}:{node.lineno}: calls {called}()")
            elif isinstance(node.func, ast.Attribute) and \
                    node.func.attr in FORBIDDEN_ATTRIBUTE_CALLS:
                found.append(f"{filename}:{node.lineno}: calls .{node.func.attr}()")
    return found


def test_core_is_pure():
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 20, "the walk must actually see core/"
    problems = [v for path in files for v in violations(path.read_text(), str(path))]
    assert not problems, "core/ must stay pure:\n" + "\n".join(problems)


def test_the_checker_catches_each_kind_of_violation():
    planted = {
        "import ray": "imports ray",
        "from ccxt.base import errors": "imports ccxt.base",
        "import sqlite3": "imports sqlite3",
        "import structlog": "imports structlog",
        "import urllib.request": "imports urllib.request",
        "import time\nx = time.time()": "calls time.time()",
        "from datetime import datetime\nx = datetime.now()": "calls datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()": "calls datetime.datetime.utcnow()",
        "x = open('f')": "calls open()",
        "import pandas as pd\nx = pd.read_parquet('f')": "calls pd.read_parquet()",
        "frame.to_csv('f')": "calls .to_csv()",
    }
    for source, reason in planted.items():
        assert any(reason in v for v in violations(source, "planted.py")), source
    assert violations("import numpy as np\nx = np.sqrt(2)", "clean.py") == []
