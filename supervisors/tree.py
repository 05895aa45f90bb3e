"""A snapshot of a supervision tree, for a ``status`` command."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from supervisors.child import ChildRecord
from supervisors.spec import SupervisorSpec


@dataclass(frozen=True, slots=True)
class TreeNode:
    """Status of a supervisor or child at the time of the snapshot.

    Attributes:
        name: Short name.
        actor_name: Full Ray actor name (for ``ray.get_actor``).
        kind: ``"supervisor"`` or ``"worker"``.
        status: A :class:`~supervisors.child.ChildStatus` value for children; a
            :class:`~supervisors.supervisor.SupervisorStatus` value for the node a supervisor
            reports about itself.
        alive: Whether it answered its last heartbeat (a supervisor about itself: running).
        restarts: Restarts of this child by its supervisor (root: restarts in the window).
        last_heartbeat: Clock time of the last answered ping, if any.
        restart: Its restart type (permanent / transient / temporary).
        strategy: A supervisor's strategy; None for workers.
        children: Child nodes, in start order.
    """

    name: str
    actor_name: str
    kind: str
    status: str
    alive: bool
    restarts: int
    last_heartbeat: float | None
    restart: str
    strategy: str | None = None
    children: tuple[TreeNode, ...] = ()

    def find(self, path: str) -> TreeNode | None:
        """The descendant at ``path`` (``"trading/executor"``), or None."""
        node: TreeNode | None = self
        for part in path.split("/"):
            node = next((c for c in node.children if c.name == part), None) if node else None
        return node

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this node and its descendants."""
        return dataclasses.asdict(self)

    def render(self, indent: int = 0) -> str:
        """Indented text, one line per node, for a terminal."""
        beat = "-" if self.last_heartbeat is None else f"{self.last_heartbeat:.3f}"
        extra = f" strategy={self.strategy}" if self.strategy else ""
        line = (
            f"{'  ' * indent}{self.name} [{self.kind}] {self.status}"
            f" alive={self.alive} restarts={self.restarts} last_heartbeat={beat}{extra}"
        )
        return "\n".join([line, *(child.render(indent + 1) for child in self.children)])


def child_node(record: ChildRecord) -> TreeNode:
    """The node of one child as its supervisor sees it (without grandchildren)."""
    spec = record.spec
    return TreeNode(
        name=record.name,
        actor_name=record.actor_name,
        kind="supervisor" if record.is_supervisor else "worker",
        status=record.status.value,
        alive=record.alive,
        restarts=record.restarts,
        last_heartbeat=record.last_heartbeat,
        restart=record.restart.value,
        strategy=spec.strategy.value if isinstance(spec, SupervisorSpec) else None,
    )
