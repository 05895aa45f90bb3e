"""Connect to a Ray cluster, or start a small local one, and stop only what we started.

``connect(None, ...)`` always starts a *new* local Ray instance (``address="local"``) with
capped CPUs and object store, even when another cluster runs on the machine or ``RAY_ADDRESS``
is set. It asks for node address 127.0.0.1 and a dashboard (if any) on 127.0.0.1; Ray 2.60
rewrites a loopback node address to the machine's own interface address, so its traffic stays
on the machine without being loopback-bound.

``connect("auto")`` joins the cluster of the last ``ray start`` on this machine;
``connect("host:port")`` joins that cluster. Ray's connection errors are translated into
:class:`core.errors.EvotraderError` with the address in the message.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import ray
import ray.util

from core.errors import EvotraderError

DEFAULT_NAMESPACE = "evotrader"
LOOPBACK = "127.0.0.1"
_PROBE_TIMEOUT_S = 3.0
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(slots=True)
class RayHandle:
    """A connection to Ray made by :func:`connect`.

    Attributes:
        address: The cluster's GCS address (``host:port``).
        namespace: The Ray namespace of this driver.
        started: True when :func:`connect` started this Ray instance (and shutdown stops it).
    """

    address: str
    namespace: str
    started: bool
    _open: bool = field(default=True, repr=False)

    def shutdown(self) -> None:
        """Disconnect; stop the local Ray instance only if this handle started it.

        A handle that joined an existing cluster (or a Ray session someone else opened in this
        process) leaves it running. Calling ``shutdown`` twice is harmless.
        """
        if not self._open:
            return
        self._open = False
        if self.started and ray.is_initialized():
            ray.shutdown()


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    include_dashboard: bool = False,
    temp_dir: str | None = None,
) -> RayHandle:
    """Join a running Ray cluster, or start a local one on loopback.

    Args:
        address: ``None`` starts a new local instance; ``"auto"`` joins the cluster started by
            ``ray start`` on this machine; ``"host:port"`` (or ``ray://host:port``) joins that
            cluster.
        num_cpus: CPUs of a local instance (ignored when joining a cluster).
        object_store_memory: Object store bytes of a local instance (ignored when joining).
        namespace: Ray namespace for named actors.
        include_dashboard: Start the dashboard (on 127.0.0.1) for a local instance.
        temp_dir: Ray's temporary folder for a local instance (default: Ray's own).

    Returns:
        A handle whose :meth:`RayHandle.shutdown` stops only what this call started.

    Raises:
        EvotraderError: The address is malformed or unreachable, no cluster was found for
            ``"auto"``, or this process is already connected to another cluster.
    """
    explicit = address if address not in (None, "auto") and "://" not in address else None
    if explicit is not None:
        _probe(explicit)
    if ray.is_initialized():
        return _reuse_current(explicit, namespace)
    if address is None:
        return _start_local(num_cpus, object_store_memory, namespace, include_dashboard, temp_dir)
    try:
        ray.init(address=address, namespace=namespace)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        raise EvotraderError(f"cannot join the Ray cluster at {address!r}: {exc}") from exc
    return RayHandle(address=_gcs_address(), namespace=namespace, started=False)


def _start_local(
    num_cpus: int | None,
    object_store_memory: int | None,
    namespace: str,
    include_dashboard: bool,
    temp_dir: str | None,
) -> RayHandle:
    """Start a new single-node Ray instance bound to 127.0.0.1."""
    extra: dict[str, Any] = {"_temp_dir": temp_dir} if temp_dir else {}
    try:
        ray.init(
            address="local",
            num_cpus=num_cpus,
            object_store_memory=object_store_memory,
            include_dashboard=include_dashboard,
            dashboard_host=LOOPBACK,
            _node_ip_address=LOOPBACK,
            namespace=namespace,
            **extra,
        )
    except (ConnectionError, ValueError, RuntimeError, TimeoutError, OSError) as exc:
        raise EvotraderError(f"cannot start a local Ray instance: {exc}") from exc
    return RayHandle(address=_gcs_address(), namespace=namespace, started=True)


def _reuse_current(address: str | None, namespace: str) -> RayHandle:
    """Return a non-owning handle on the Ray session this process already has."""
    current = _gcs_address()
    if address is not None and not _same(address, current):
        raise EvotraderError(
            f"this process is already connected to the Ray cluster at {current}; "
            f"cannot also join {address}"
        )
    return RayHandle(address=current, namespace=namespace, started=False)


def _gcs_address() -> str:
    """The GCS address of the cluster this process is connected to."""
    return str(ray.get_runtime_context().gcs_address)


def _split(address: str) -> tuple[str, int]:
    """Split ``host:port`` into its parts, or raise a clear error."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise EvotraderError(f"invalid Ray address {address!r}: expected 'host:port' or 'auto'")
    return host, int(port)


def _same(address: str, other: str) -> bool:
    """Whether two ``host:port`` addresses name the same port on the same host (loosely)."""
    return _split(address)[1] == _split(other)[1]


def _probe(address: str) -> None:
    """Fail fast with a clear error when nothing listens where Ray will connect.

    Ray rewrites a loopback bootstrap address (``127.0.0.1``, ``localhost``) to this machine's
    interface address before connecting, so both must answer; otherwise ``ray.init`` would
    retry for minutes instead of failing.
    """
    host, port = _split(address)
    targets = [host]
    if host in _LOOPBACK_NAMES:
        targets.append(str(ray.util.get_node_ip_address()))
    for target in dict.fromkeys(targets):
        try:
            with socket.create_connection((target, port), timeout=_PROBE_TIMEOUT_S):
                pass
        except OSError as exc:
            via = "" if target == host else f" (Ray connects to it as {target}:{port})"
            raise EvotraderError(
                f"the Ray cluster at {address} is unreachable{via}: {exc}; start it with "
                "'ray start --head' or pass address=None to start a local instance"
            ) from exc
