"""Which children a restart strategy restarts when one child must be restarted."""

from __future__ import annotations

from supervisors.spec import Strategy


def restart_scope(strategy: Strategy, n_children: int, failed: int) -> range:
    """Indices of the children to restart, in start order.

    Args:
        strategy: The supervisor's strategy.
        n_children: Number of declared children.
        failed: Index of the child that must be restarted.

    Returns:
        ``[failed]`` for one_for_one, every index for one_for_all, ``failed`` and all later
        indices for rest_for_one.

    Raises:
        IndexError: ``failed`` is not a valid child index.
    """
    if not 0 <= failed < n_children:
        raise IndexError(f"child index {failed} out of range for {n_children} children")
    if strategy is Strategy.ONE_FOR_ALL:
        return range(n_children)
    if strategy is Strategy.REST_FOR_ONE:
        return range(failed, n_children)
    return range(failed, failed + 1)
