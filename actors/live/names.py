"""Names of a session's actors and the inputs its tree is built from (light: plain values).

Every actor is named ``evotrader/root/<subtree>/<child>`` in the session's Ray namespace, so a
restarted root adopts its children and ``python -m actors.main status`` finds them. This
module imports no actor, so a process that only passes these values along (the session
actor, a client) starts fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from actors.live.venue_spec import VenueBookSpec, VenueExecutionSpec, VenueFeedSpec
from configs.app import AppConfig
from configs.guardian import GuardianConfig
from core.trading.choice import StrategyChoice
from supervisors.naming import child_actor_name

PREFIX = "evotrader"
ROOT = "root"
SESSION_CHILD = "session"


def feed_child(symbol: str) -> str:
    """Child name of the feed of ``symbol`` (``BTC/USDT`` -> ``feed-BTC-USDT``)."""
    return "feed-" + symbol.replace("/", "-").replace(":", "-")


def candidate_actor(label: str) -> str:
    """Ray name of candidate ``label``'s actor."""
    return child_actor_name(PREFIX, f"{ROOT}/candidates", f"candidate-{label}")


@dataclass(frozen=True, slots=True)
class SessionNames:
    """Ray names of the session's actors."""

    store: str
    control: str
    feeds: tuple[str, ...]
    guardian: str
    executor: str
    slot: str
    candidates: tuple[str, ...]
    session: str = ""

    @classmethod
    def build(cls, symbols: Sequence[str], candidates: Sequence[str]) -> SessionNames:
        """Names for the given symbols and candidate names."""
        def name(path: str, child: str) -> str:
            return child_actor_name(PREFIX, f"{ROOT}/{path}", child)

        return cls(store=name("ops", "store"), control=name("ops", "control"),
                   feeds=tuple(name("market", feed_child(s)) for s in symbols),
                   guardian=name("trading", "guardian"), executor=name("trading", "executor"),
                   slot=name("trading", "slot"),
                   candidates=tuple(candidate_actor(c) for c in candidates),
                   session=child_actor_name(PREFIX, ROOT, SESSION_CHILD))

    def all(self) -> list[str]:
        """Every actor name the session loop calls, in start order (not the session's)."""
        return [self.store, self.control, *self.feeds, self.guardian, self.executor, self.slot,
                *self.candidates]


@dataclass(frozen=True, slots=True)
class TreeInputs:
    """Everything the factories need (sent to the supervisors, so it must pickle)."""

    session_id: str
    namespace: str
    config: AppConfig
    guardian: GuardianConfig
    data_dir: str
    state_dir: str
    store_path: str
    timeline: np.ndarray
    timeframe_ms: int
    live: StrategyChoice
    candidates: tuple[tuple[str, StrategyChoice], ...]
    live_feed: VenueFeedSpec | None = None
    """Where the feeds read live bars (PAPER and later modes); None: stored bars (SIM)."""
    venue_execution: VenueExecutionSpec | None = None
    paper_books: VenueBookSpec | None = None
    """Where a PAPER executor reads books to fill by walking them; None: the fill model."""
    """Where the executor trades (TESTNET, LIVE); None: the paper client."""
    live_policy: str = ""
    """The active policy's hash (what the sentry names in its events)."""
    drift_model: str = ""
    """JSON of the active policy's drift model ("" = none: no drift detection)."""
    drift_note: str = ""
    """Why there is no drift model ("" when there is one)."""
    candidate_drift: tuple[tuple[str, str], ...] = ()
    """``(candidate name, drift model JSON)`` of the candidates that have one."""
    ledger_path: str = ""
    """Absolute path of the store holding the policy ledger (automatic rollbacks write it)."""

    @property
    def candidate_names(self) -> tuple[str, ...]:
        """The session's candidates at its start (a running session's roster adds others)."""
        return tuple(label for label, _ in self.candidates)
