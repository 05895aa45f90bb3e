"""Registry of built-in strategies and parsing of ``k=v`` parameter strings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from core.data.candles import Candles
from core.errors import BacktestError
from core.strategies.mean_reversion import MeanReversionParams, compute_mean_reversion
from core.strategies.momentum import MomentumParams, compute_momentum
from core.strategies.pairs import PairsParams, compute_pairs
from core.strategies.stream import (
    BuiltinStream,
    BuiltinStreamState,
    MeanReversionStream,
    MomentumStream,
    PairsStream,
)

Direction = Literal["long_only", "long_short", "either"]
ComputeFn = Callable[[Sequence[Candles], BaseModel], list[np.ndarray]]
StreamFn = Callable[[BaseModel, BuiltinStreamState | None], BuiltinStream]


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A built-in strategy: how to parameterise it and how to compute its targets.

    Attributes:
        name: Registry key, e.g. ``"momentum"``.
        params_model: Frozen, strict pydantic model of the parameters (bounds, defaults,
            descriptions).
        symbols: Number of candle series ``compute`` takes (1, or 2 for pairs).
        direction_required: ``"long_short"`` if the strategy cannot work without shorts,
            ``"either"`` if it runs in both modes (negative targets are clipped long-only).
        compute: ``compute(candles, params) -> [targets per symbol]``, strictly causal.
        description: One-line summary for listings.
        stream: ``stream(params, state)`` builds the streaming twin of ``compute`` (new closes
            in, new targets out, equal to ``compute`` on the whole history bit for bit);
            None for a plug-in without one (a runner then recomputes its whole history).
    """

    name: str
    params_model: type[BaseModel]
    symbols: int
    direction_required: Direction
    compute: ComputeFn
    description: str = ""
    stream: StreamFn | None = None

    def direction_for(self, params: BaseModel) -> Literal["long_only", "long_short"]:
        """Return the backtest direction these parameters need.

        Args:
            params: Parsed parameters of this strategy.

        Returns:
            ``"long_short"`` if the strategy requires it or ``params.allow_short`` is set,
            else ``"long_only"``.
        """
        if self.direction_required == "long_short" or getattr(params, "allow_short", False):
            return "long_short"
        return "long_only"


STRATEGIES: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            name="momentum",
            params_model=MomentumParams,
            symbols=1,
            direction_required="either",
            compute=compute_momentum,
            stream=MomentumStream,
            description="Moving-average cross: long while fast MA > slow MA.",
        ),
        StrategySpec(
            name="mean_reversion",
            params_model=MeanReversionParams,
            symbols=1,
            direction_required="either",
            compute=compute_mean_reversion,
            stream=MeanReversionStream,
            description="Z-score mean reversion with entry/exit hysteresis.",
        ),
        StrategySpec(
            name="pairs",
            params_model=PairsParams,
            symbols=2,
            direction_required="long_short",
            compute=compute_pairs,
            stream=PairsStream,
            description="Rolling-OLS spread z-score between two symbols (A, B).",
        ),
    )
}


def get_strategy(name: str) -> StrategySpec:
    """Return the spec registered under ``name``.

    Raises:
        BacktestError: If no strategy has that name; the message lists the known ones.
    """
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise BacktestError(f"unknown strategy {name!r}; known: {known}") from None


def _split_pairs(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for piece in text.split(","):
        item = piece.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise BacktestError(f"expected key=value, got {item!r}")
        if key in values:
            raise BacktestError(f"parameter {key!r} given twice")
        values[key] = value
    return values


def _describe(error: Mapping[str, Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}={error['input']!r}: {message}" if where else message


def parse_params(spec: StrategySpec, text: str | Mapping[str, Any]) -> BaseModel:
    """Parse ``"k=v,k=v"`` (or a mapping) into the spec's parameter model.

    Values are coerced by the model (``"20"`` -> 20, ``"true"`` -> True); omitted parameters
    take their defaults; an empty string gives all defaults.

    Args:
        spec: The strategy whose parameters to parse.
        text: Comma-separated ``name=value`` pairs, or a mapping of names to values.

    Returns:
        A validated, frozen instance of ``spec.params_model``.

    Raises:
        BacktestError: On malformed text, unknown or repeated names, values of the wrong type,
            out-of-range values or violated constraints (e.g. "slow must be greater than fast").
    """
    values = _split_pairs(text) if isinstance(text, str) else dict(text)
    known = list(spec.params_model.model_fields)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BacktestError(
            f"{spec.name}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    try:
        return spec.params_model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise BacktestError(f"{spec.name}: invalid parameters: {problems}") from None
