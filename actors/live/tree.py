"""The session's supervision tree and the names of its actors.

```
root (one_for_one)
├── ops (one_for_one): store, control
├── market (one_for_one): feed-<BASE>-<QUOTE> per symbol
├── trading (rest_for_one): guardian, executor, slot   -- no executor without its guardian
├── candidates (one_for_one): candidate-<name> per candidate
└── session: the stepping loop (transient, significant: its normal end shuts the tree down)
```

Every actor is named ``evotrader/root/<subtree>/<child>`` in the session's Ray namespace, so a
restarted root adopts its children and ``python -m actors.main status`` finds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.live.guardian_sentry import SentrySpec
from actors.live.names import (
    PREFIX,
    ROOT,
    SESSION_CHILD,
    SessionNames,
    TreeInputs,
    feed_child,
)
from actors.live.roster_file import RosterSpec
from actors.live.shells import (
    CandidateTrader,
    Executor,
    MarketFeed,
    RiskGuardian,
    SessionControl,
    StoreActor,
    StrategySlot,
    VenueExecutor,
)
from actors.live.subscriber import BarSource
from core.trading.choice import StrategyChoice
from supervisors import ChildSpec, RestartType, Strategy, SupervisorSpec

__all__ = ["PREFIX", "ROOT", "SESSION_CHILD", "SessionNames", "TreeInputs", "build_tree",
           "candidate_child", "feed_child", "roster_spec"]

def _options(actor_cls: Any, namespace: str) -> Callable[[str], Any]:
    def options(name: str) -> Any:
        return actor_cls.options(name=name, namespace=namespace, lifetime="detached",
                                 num_cpus=0, max_restarts=0)
    return options


def _child(name: str, factory: Callable[[str], Any]) -> ChildSpec:
    return ChildSpec(name=name, factory=factory, restart=RestartType.PERMANENT,
                     shutdown_timeout_s=10.0, start_timeout_s=60.0)


def roster_spec(inputs: TreeInputs) -> RosterSpec:
    """Where the session's actors read its candidate roster."""
    return RosterSpec(inputs.state_dir, inputs.candidate_names)


def candidate_child(inputs: TreeInputs, names: SessionNames, label: str,
                    choice: StrategyChoice, drift_model: str = "", first_seq: int = 0
                    ) -> ChildSpec:
    """The child spec of candidate ``label``.

    One of the tree's, or one added while the session runs, from step ``first_seq``.
    """
    config, ns = inputs.config, inputs.namespace
    session = config.session
    options = _options(CandidateTrader, ns)
    bars = BarSource(names.feeds, tuple(config.data.symbols), ns, inputs.timeline,
                     config.data.venue, inputs.timeframe_ms)
    step_bars = 1 if session.speed is not None else session.batch_bars
    roster = roster_spec(inputs)
    return _child(f"candidate-{label}", lambda n: options(n).remote(
        label, choice, inputs.state_dir, config.backtest, config.risk.effective(),
        inputs.guardian, tuple(config.data.symbols), names.feeds, ns, inputs.timeline,
        config.data.venue, inputs.timeframe_ms, step_bars=step_bars, store=names.store,
        session_id=inputs.session_id, stuck_after_s=session.stuck_after_s, bars=bars,
        drift_model=drift_model, first_seq=first_seq, roster=roster.initial))


def build_tree(inputs: TreeInputs, names: SessionNames,
               session_factory: Callable[[str], Any] | None = None) -> SupervisorSpec:
    """The root :class:`SupervisorSpec` of a session.

    Args:
        inputs: What the factories need.
        names: The actors' names.
        session_factory: Factory of the session actor (the stepping loop), started last; its
            normal end shuts the whole tree down. None builds the tree without it.
    """
    config, ns = inputs.config, inputs.namespace
    symbols = tuple(config.data.symbols)
    limits = config.risk.effective()
    session = config.session
    knobs: dict[str, Any] = {
        "max_restarts": session.max_restarts, "period_s": session.restart_period_s,
        "heartbeat_interval_s": session.heartbeat_s,
        "heartbeat_timeout_s": max(1.0, 2 * session.heartbeat_s),
        "heartbeat_misses": session.heartbeat_misses, "loop_interval_s": 0.1,
        "restart_backoff_s": 0.05,
    }

    child = _child
    store_opts, control_opts = _options(StoreActor, ns), _options(SessionControl, ns)
    ops = SupervisorSpec("ops", children=(
        child("store", lambda n: store_opts(n).remote(inputs.store_path)),
        child("control", lambda n: control_opts(n).remote(inputs.session_id)),
    ), strategy=Strategy.ONE_FOR_ONE, **knobs)

    feed_opts = _options(MarketFeed, ns)
    data = config.data
    latency_critical = (names.slot, names.guardian, names.executor)
    bars = BarSource(names.feeds, symbols, ns, inputs.timeline, data.venue, inputs.timeframe_ms)

    def feed_factory(symbol: str) -> Callable[[str], Any]:
        return lambda n: feed_opts(n).remote(
            inputs.data_dir, data.venue, symbol, data.timeframe,
            synthetic_fallback=data.synthetic_fallback, synthetic_bars=data.synthetic_bars,
            seed=config.app.seed, session_id=inputs.session_id, timeline=inputs.timeline,
            subscribers=latency_critical, conflated=names.candidates, namespace=ns,
            live=inputs.live_feed, roster=roster_spec(inputs))

    market = SupervisorSpec("market", children=tuple(
        child(feed_child(s), feed_factory(s)) for s in symbols),
        strategy=Strategy.ONE_FOR_ONE, **knobs)

    guardian_opts = _options(RiskGuardian, ns)
    executor_opts = _options(Executor if inputs.venue_execution is None else VenueExecutor, ns)
    executor_venue = ({"books": inputs.paper_books} if inputs.venue_execution is None else
                      {"venue": inputs.venue_execution, "timeframe_ms": inputs.timeframe_ms})
    slot_opts = _options(StrategySlot, ns)
    guardian_names = {"executor": names.executor, "slot": names.slot, "store": names.store}
    trading = SupervisorSpec("trading", children=(
        child("guardian", lambda n: guardian_opts(n).remote(
            inputs.state_dir, limits, inputs.guardian, config.backtest, symbols,
            inputs.timeframe_ms, guardian_names, ns, session_id=inputs.session_id,
            stuck_after_s=session.stuck_after_s, bars=bars,
            retry_timeout_s=session.retry_timeout_s,
            compiled_channel=session.compiled_channel,
            sentry=SentrySpec(inputs.live_policy, inputs.drift_model,
                              config.governance.drift.daily_drop_pct,
                              config.governance.regime_risk.resolve(config.risk)))),
        child("executor", lambda n: executor_opts(n).remote(
            inputs.state_dir, config.backtest, limits, symbols,
            session_id=inputs.session_id, stuck_after_s=session.stuck_after_s, bars=bars,
            **executor_venue)),
        child("slot", lambda n: slot_opts(n).remote(
            inputs.live, symbols, names.feeds, ns, inputs.timeline, data.venue,
            inputs.timeframe_ms, session_id=inputs.session_id, state_dir=inputs.state_dir,
            stuck_after_s=session.stuck_after_s, bars=bars, guardian=names.guardian)),
    ), strategy=Strategy.REST_FOR_ONE, **knobs)

    candidates = SupervisorSpec("candidates", children=tuple(
        candidate_child(inputs, names, label, choice, dict(inputs.candidate_drift).get(label, ""))
        for label, choice in inputs.candidates), strategy=Strategy.ONE_FOR_ONE, **knobs)

    children: list[ChildSpec | SupervisorSpec] = [ops, market, trading, candidates]
    if session_factory is not None:
        children.append(ChildSpec(name=SESSION_CHILD, factory=session_factory,
                                  restart=RestartType.TRANSIENT, significant=True,
                                  shutdown_timeout_s=30.0, start_timeout_s=60.0))
    return SupervisorSpec(ROOT, children=tuple(children), strategy=Strategy.ONE_FOR_ONE,
                          auto_shutdown=session_factory is not None, **knobs)
