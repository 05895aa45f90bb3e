"""Planning a session: its window, timeline, actor names and the inputs of its tree.

Planning reads the feeds' timelines in the calling process (before Ray starts, so a data
error exits 2 at once) and is a pure function of the configuration and the stored data:
``resume`` plans again from the recorded configuration and gets the same plan.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actors.live.live_plan import (
    LIVE_MODES,
    live_timeline,
    paper_book_spec,
    venue_execution_spec,
    venue_feed_spec,
)
from actors.live.names import SessionNames, TreeInputs
from actors.live.window import Window, batch_bounds, resolve_window
from configs.app import AppConfig
from configs.loader import LoadedConfig
from configs.secrets import Secrets
from core.data.timeframes import timeframe_to_ms
from core.errors import ConfigError, DataNotFoundError, UsageError
from core.trading.align import common_timeline
from core.trading.choice import StrategyChoice
from core.trading.parity import REFERENCE

RESUME_RECORD = "session.json"
"""File in ``<session folder>/state/`` holding what ``resume`` needs to plan again."""


def new_session_id(config_id: str) -> str:
    """``<UTC time>-<config id prefix>``: readable and unique enough per machine."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return f"{stamp}-{config_id[:6]}"


def strategy_choice(label: str, name: str | None, params: dict[str, Any],
                    alpha: str | None = None) -> StrategyChoice:
    """A :class:`StrategyChoice` from config values."""
    return StrategyChoice(label=label, strategy=name, params=tuple(sorted(params.items())),
                          alpha=alpha)


def ledger_candidate_name(policy_hash: str) -> str:
    """The candidate name of a ledger policy in a session (``p-`` and its hash)."""
    return f"p-{policy_hash}"


def session_choices(config: AppConfig) -> tuple[StrategyChoice,
                                                list[tuple[str, StrategyChoice]]]:
    """What the live slot and each candidate run.

    The ledger's policies when the session took them (``[governance] active_policy`` and
    ``candidate_policies``, see :mod:`actors.governance.apply`), else ``[strategy]`` and
    ``[session] candidates``.

    Raises:
        UsageError: A recorded policy cannot be read.
    """
    from core.governance.policy import PolicySpec  # the planner only
    from core.governance.runtime import choice_of

    governance = config.governance
    try:
        active = (PolicySpec.from_json(governance.active_policy)
                  if governance.active_policy else None)
        ledger = [PolicySpec.from_json(text) for text in governance.candidate_policies]
    except ConfigError as exc:
        raise UsageError(f"[governance] holds a policy that cannot be read: {exc}") from exc
    live = (choice_of(active, "live") if active is not None else
            strategy_choice("live", config.strategy.name, dict(config.strategy.params)))
    candidates = [(c.name, strategy_choice(c.name, c.strategy, dict(c.params), c.alpha))
                  for c in config.session.candidates]
    for spec in ledger:
        name = ledger_candidate_name(spec.hash)
        candidates.append((name, choice_of(spec, name)))
    return live, candidates


def governance_inputs(config: AppConfig, live: StrategyChoice) -> dict[str, Any]:
    """The active policy's hash, its drift model and the ledger's path, for the tree.

    The drift model is learned from the policy's proof window (a few seconds for a promoted
    alpha); a policy without one (a configured strategy) is not watched for drift, only for
    its daily drop. The ledger's candidates get theirs too (their drift is tracked from their
    first bar).
    """
    from actors.governance.drift_model import drift_json
    from core.governance.policy import PolicySpec
    from core.governance.runtime import session_runtime

    if config.governance.active_policy:
        spec = PolicySpec.from_json(config.governance.active_policy)
        model, note = drift_json(config, spec)
    else:
        spec = session_runtime(live, config)
        model, note = "", f"drift sentry off for {spec.hash}: a configured strategy has no " \
                          "proof window to learn its returns from"
    candidates = []
    for text in config.governance.candidate_policies:
        candidate = PolicySpec.from_json(text)
        drift, _ = drift_json(config, candidate)
        if drift:
            candidates.append((ledger_candidate_name(candidate.hash), drift))
    return {"live_policy": spec.hash, "drift_model": model, "drift_note": note,
            "ledger_path": str(Path(config.store.path).resolve()),
            "candidate_drift": tuple(candidates)}


@dataclass
class SessionPlan:
    """Everything a session's actors are built from.

    Attributes:
        names: Ray names of the session's actors.
        inputs: The tree's inputs (sent to the supervisors and the session actor).
        window: The replayed window.
        timeline: Bar open times of the session.
        data_labels: Per symbol, the data source (``SYNTHETIC`` prefix for generated data).
        config_id: Id of the configuration.
        folder: The session folder (absolute).
    """

    names: SessionNames
    inputs: TreeInputs
    window: Window
    timeline: np.ndarray
    data_labels: dict[str, str]
    config_id: str
    folder: str

    def step_bounds(self) -> list[tuple[int, int]]:
        """Timeline index ranges of the steps: one bar each when paced, else batches."""
        session = self.inputs.config.session
        return batch_bounds(self.timeline, 1 if session.speed is not None
                            else session.batch_bars)


def plan_session(loaded: LoadedConfig, session_id: str, folder: Path, namespace: str
                 ) -> SessionPlan:
    """Read the feeds' timelines, resolve the window and build the tree's inputs.

    Raises:
        UsageError: Missing data, or an empty window.
    """
    from actors.live.feed import FeedService  # reads the stored data: the planner only

    config = loaded.config
    data = config.data
    data_dir = str(data.resolve_dir())
    if config.app.mode in LIVE_MODES:
        return _plan_live(loaded, session_id, folder, namespace, data_dir)
    infos = []
    for symbol in data.symbols:
        try:
            feed = FeedService(data_dir, data.venue, symbol, data.timeframe,
                               synthetic_fallback=data.synthetic_fallback,
                               synthetic_bars=data.synthetic_bars, seed=config.app.seed)
        except DataNotFoundError as exc:
            raise UsageError(f"{exc}; set [data] dir/symbols/timeframe") from exc
        infos.append(feed.info())
    full = common_timeline([i.timeline for i in infos], None, None)
    if full.size == 0:
        raise UsageError(f"the symbols {', '.join(data.symbols)} share no bar at "
                         f"{data.venue} {data.timeframe}")
    tf_ms = timeframe_to_ms(data.timeframe)
    window = resolve_window(config.session, int(full[0]), int(full[-1]) + tf_ms)
    timeline = common_timeline([i.timeline for i in infos], window.start_ms, window.until_ms)
    live, choices = session_choices(config)
    candidates = tuple(choices)
    names = SessionNames.build(data.symbols, [name for name, _ in candidates])
    inputs = TreeInputs(session_id=session_id, namespace=namespace, config=config,
                        guardian=config.guardian, data_dir=data_dir,
                        state_dir=str(folder / "state"), store_path=str(folder / "session.sqlite"),
                        timeline=timeline, timeframe_ms=tf_ms, live=live, candidates=candidates,
                        **governance_inputs(config, live))
    labels = {i.symbol: ("SYNTHETIC " if i.synthetic else "") + i.source for i in infos}
    return SessionPlan(names, inputs, window, timeline, labels, loaded.config_id, str(folder))


def _plan_live(loaded: LoadedConfig, session_id: str, folder: Path, namespace: str,
               data_dir: str) -> SessionPlan:
    """The plan of a session on live bars (its window fixed by :func:`fix_live_window`)."""
    config = loaded.config
    timeline = live_timeline(config)
    tf_ms = timeframe_to_ms(config.data.timeframe)
    live, candidates = session_choices(config)
    if config.session.sim_reference:  # the active strategy on the SIM fill model, for parity
        candidates.append((REFERENCE, dataclasses.replace(live, label=REFERENCE)))
    names = SessionNames.build(config.data.symbols, [name for name, _ in candidates])
    spec = venue_feed_spec(config)
    inputs = TreeInputs(
        session_id=session_id, namespace=namespace, config=config, guardian=config.guardian,
        data_dir=data_dir, state_dir=str(folder / "state"),
        store_path=str(folder / "session.sqlite"), timeline=timeline, timeframe_ms=tf_ms,
        live=live, candidates=tuple(candidates), live_feed=spec,
        venue_execution=venue_execution_spec(config), paper_books=paper_book_spec(config),
        **governance_inputs(config, live))
    label = f"live {spec.exchange_id}" + (f" at {spec.api_url}" if spec.api_url else "")
    window = Window(int(timeline[0]), int(timeline[-1]) + tf_ms)
    return SessionPlan(names, inputs, window, timeline,
                       {s: label for s in config.data.symbols}, loaded.config_id, str(folder))


def write_resume_record(folder: Path, loaded: LoadedConfig, session_id: str) -> Path:
    """Record the configuration a session runs with, for ``resume`` (no secrets in it)."""
    state = folder / "state"
    state.mkdir(parents=True, exist_ok=True)
    body = {"format": 1, "session_id": session_id, "config_id": loaded.config_id,
            "sources": list(loaded.sources), "config": loaded.config.model_dump(mode="json")}
    path = state / RESUME_RECORD
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    temporary.replace(path)
    return path


def read_resume_record(folder: Path) -> tuple[LoadedConfig, str]:
    """The configuration and id recorded by :func:`write_resume_record`.

    Raises:
        UsageError: No record in ``folder`` (not a session folder), or an unreadable one.
    """
    path = folder / "state" / RESUME_RECORD
    if not path.is_file():
        raise UsageError(f"{folder} is not a resumable session folder (no state/"
                         f"{RESUME_RECORD}); `python -m actors.main resume ID` takes the id of "
                         "a session under [session] sessions_dir")
    try:
        body = json.loads(path.read_text())
        config = AppConfig.model_validate(body["config"])
        session_id, config_id = str(body["session_id"]), str(body["config_id"])
        sources = tuple(str(s) for s in body.get("sources", ()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the resume record {path}: {exc}") from exc
    from configs.identity import config_id as compute_id

    if compute_id(config) != config_id:
        raise UsageError(f"the resume record {path} does not match its config id {config_id} "
                         "(edited by hand?); refusing to resume with another configuration")
    return LoadedConfig(config=config, secrets=Secrets.from_env(), config_id=config_id,
                        sources=sources), session_id
