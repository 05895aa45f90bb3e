"""The live session: what a ``python -m actors.main`` run replays, how fast, and its actors."""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from configs.base import StrictModel

ParamValue = int | float | bool | str
_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_duration_ms(text: str) -> int:
    """``"90m"``, ``"12h"``, ``"30d"``, ``"2w"`` -> milliseconds.

    Raises:
        ValueError: If the text is not a positive count followed by m, h, d or w.
    """
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"bad duration {text!r}: expected a positive number followed by m, h, "
                         "d or w (e.g. 30d, 12h)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


class CandidateConfig(StrictModel):
    """One candidate paper-traded beside the live strategy: a built-in or a DSL alpha."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                      description="Short name; part of the actor name.")
    strategy: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,63}$",
                                 description="Built-in strategy name (or set alpha).")
    params: dict[str, ParamValue] = Field(default_factory=dict,
                                          description="Built-in strategy parameters.")
    alpha: str | None = Field(None, min_length=1, max_length=20_000,
                              description="DSL alpha expression (or set strategy).")

    @model_validator(mode="after")
    def _one_definition(self) -> Self:
        if (self.strategy is None) == (self.alpha is None):
            raise ValueError(f"candidate {self.name!r}: set exactly one of 'strategy' or 'alpha'")
        return self


def _default_candidates() -> list[CandidateConfig]:
    return [
        CandidateConfig(name="mom-fast", strategy="momentum", params={"fast": 10, "slow": 30}),
        CandidateConfig(name="mom-slow", strategy="momentum", params={"fast": 50, "slow": 200}),
        CandidateConfig(name="meanrev", strategy="mean_reversion", params={}),
    ]


class SessionConfig(StrictModel):
    """A SIM session: the replayed window, pacing, batching, candidates and supervision."""

    start: str | None = Field(None, description="First bar replayed (date, ISO time or epoch "
                              "ms); unset = end of data minus duration.")
    until: str | None = Field(None, description="Last bar replayed (exclusive); unset = "
                              "start + duration, or the end of the data.")
    duration: str | None = Field("90d", description="Market time replayed, e.g. 30d, 12h; "
                                 "unset = everything from start.")
    speed: float | None = Field(None, gt=0.0, le=1e9, description="Pacing as a multiple of "
                                "real time (3600 = one 1h bar per second); unset = as fast as "
                                "possible.")
    batch_bars: int = Field(4096, ge=1, le=1_000_000, description="Bars per SIM step (as fast "
                            "as possible); paced sessions step one bar at a time.")
    sessions_dir: str = Field("runs/sessions", min_length=1,
                              description="Session folders (runs/sessions/<id>/).")
    candidates: list[CandidateConfig] = Field(default_factory=_default_candidates,
                                              max_length=32,
                                              description="Candidates paper-traded beside the "
                                              "live strategy (default 3).")
    heartbeat_s: float = Field(0.5, gt=0.0, le=60.0, description="Heartbeat interval, s.")
    heartbeat_misses: int = Field(4, ge=1, le=100, description="Missed heartbeats before a "
                                  "child is unhealthy.")
    max_restarts: int = Field(20, ge=0, le=10_000, description="Restart intensity: restarts "
                              "allowed per supervisor within restart_period_s.")
    restart_period_s: float = Field(60.0, gt=0.0, le=86_400.0,
                                    description="Window of the restart intensity, s.")
    retry_timeout_s: float = Field(60.0, gt=0.0, le=3600.0, description="How long a step "
                                   "waits for a restarted actor before the session fails.")
    call_timeout_s: float = Field(120.0, gt=0.0, le=3600.0, description="How long one actor "
                                  "call may take before it is sent again (to the restarted "
                                  "actor, once its supervisor replaced it).")
    compiled_channel: bool = Field(True, description="Exchanges between the risk guardian "
                                   "and the executor go through a Ray compiled graph (a "
                                   "shared-memory channel, ~0.3 ms a round trip) with plain "
                                   "actor calls behind it; false: plain calls only (~1 ms).")
    bar_timeout_s: float = Field(30.0, gt=0.0, le=3600.0, description="PAPER/LIVE: how long "
                                 "after a bar's close its feed waits for the venue to list it; "
                                 "past that the feed stops (the stale-data breaker trips).")
    stuck_after_s: float = Field(30.0, gt=0.0, le=3600.0, description="An actor whose current "
                                 "step has run longer than this fails its heartbeat (alive but "
                                 "no progress) and is restarted by its supervisor.")
    sim_reference: bool = Field(True, description="PAPER/TESTNET/LIVE: trade the active "
                                "strategy once more beside it on the SIM fill model (candidate "
                                "sim-reference) and report the drift in session.md.")
    parity_bound_bps: float = Field(25.0, ge=0.0, le=10_000.0, description="Largest fill-price "
                                    "and end-equity drift from the SIM reference, bps, that "
                                    "session.md reports as within the bound.")

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: Any) -> Any:
        if value is not None:
            parse_duration_ms(value)
        return value

    @model_validator(mode="after")
    def _unique_candidates(self) -> Self:
        names = [c.name for c in self.candidates]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"candidate names must be unique; repeated: {', '.join(duplicated)}")
        if "sim-reference" in names:
            raise ValueError("the candidate name sim-reference is reserved (the SIM reference "
                             "of PAPER/TESTNET/LIVE sessions)")
        return self
