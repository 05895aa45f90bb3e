"""Configuration of the discovery engine: GP variation, MAP-Elites archive, objective, layers."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from configs.alpha import MappingConfig
from configs.base import StrictModel


class GPConfig(StrictModel):
    """Genetic-programming variation over the DSL (DEAP operators)."""

    init_min_depth: int = Field(2, ge=1, le=12, description="Smallest depth of a new tree.")
    init_max_depth: int = Field(4, ge=1, le=12, description="Largest depth of a new tree.")
    max_depth: int = Field(7, ge=2, le=12, description="No variation may exceed this depth.")
    max_size: int = Field(40, ge=3, le=64, description="No variation may exceed this size.")
    windows: tuple[int, ...] = Field((2, 3, 5, 10, 20, 50, 100, 200),
                                     description="Lookbacks the search may use, bars.")
    const_range: tuple[float, float] = Field((-2.0, 2.0), description="Range of new constants.")
    p_crossover: float = Field(0.5, ge=0.0, le=1.0, description="Share of subtree crossovers.")
    p_subtree: float = Field(0.15, ge=0.0, le=1.0, description="Subtree mutation.")
    p_point: float = Field(0.1, ge=0.0, le=1.0, description="Point (node) mutation.")
    p_hoist: float = Field(0.05, ge=0.0, le=1.0, description="Hoist mutation.")
    p_shrink: float = Field(0.05, ge=0.0, le=1.0, description="Shrink mutation.")
    p_constant: float = Field(0.08, ge=0.0, le=1.0, description="Constant perturbation.")
    p_window: float = Field(0.07, ge=0.0, le=1.0, description="Window change.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.init_min_depth > self.init_max_depth:
            raise ValueError("init_min_depth must not exceed init_max_depth")
        if self.init_max_depth > self.max_depth:
            raise ValueError("init_max_depth must not exceed max_depth")
        total = (self.p_crossover + self.p_subtree + self.p_point + self.p_hoist
                 + self.p_shrink + self.p_constant + self.p_window)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"the variation probabilities must sum to 1 (got {total:g})")
        lo, hi = self.const_range
        if not lo < hi:
            raise ValueError("const_range must be (low, high) with low < high")
        if not self.windows or min(self.windows) < 2:
            raise ValueError("windows must be integers >= 2")
        return self


class DescriptorRange(StrictModel):
    """One behaviour descriptor axis of the archive."""

    bins: int = Field(10, ge=2, le=200, description="Cells along this axis.")
    low: float = Field(description="Lower bound (values below are clipped into the first cell).")
    high: float = Field(description="Upper bound (values above go to the last cell).")


class ArchiveConfig(StrictModel):
    """The MAP-Elites grid: turnover x average holding period x correlation to buy-and-hold."""

    turnover: DescriptorRange = Field(
        default_factory=lambda: DescriptorRange(bins=10, low=0.0, high=9.0),
        description="log(1 + annualised turnover), turnover = traded notional / mean "
                    "equity / year (9 ~ 8,000 times a year).")
    holding: DescriptorRange = Field(
        default_factory=lambda: DescriptorRange(bins=10, low=0.0, high=6.0),
        description="log(1 + average holding period in bars).")
    correlation: DescriptorRange = Field(
        default_factory=lambda: DescriptorRange(bins=8, low=-1.0, high=1.0),
        description="Correlation of the strategy's returns with buy-and-hold.")


class ObjectiveConfig(StrictModel):
    """How a genome is scored: out of sample, after costs, by purged walk-forward CV."""

    metric: Literal["oos_sharpe", "dsr"] = Field(
        "oos_sharpe", description="oos_sharpe: mean out-of-sample Sharpe over the folds; "
                                  "dsr: deflated Sharpe of the OOS returns.")
    folds: int = Field(5, ge=2, le=20, description="Walk-forward folds.")
    embargo: int = Field(24, ge=0, le=10_000, description="Embargo after each fold, bars.")
    min_trades: int = Field(5, ge=0, le=100_000,
                            description="Fewer trades than this scores as a failure to trade.")
    mapping: MappingConfig = Field(default_factory=MappingConfig,
                                   description="Signal -> position mapping.")


class LayerConfig(StrictModel):
    """A search layer: the same engine on another timeframe."""

    timeframe: str = Field(pattern=r"^(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d)$",
                           description="Bar length of the layer.")
    description: str = Field("", description="What the layer is for.")


class EvolutionConfig(StrictModel):
    """Everything the discovery engine needs besides data and seed."""

    population: int = Field(64, ge=2, le=100_000, description="Genomes per generation.")
    initial_random: int = Field(128, ge=1, le=1_000_000,
                                description="Random genomes before variation starts.")
    gp: GPConfig = Field(default_factory=GPConfig, description="GP variation.")
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig, description="The grid.")
    objective: ObjectiveConfig = Field(default_factory=ObjectiveConfig, description="Scoring.")
    layers: dict[str, LayerConfig] = Field(
        default_factory=lambda: {
            "strategic": LayerConfig(timeframe="1d", description="slow allocation signals"),
            "tactical": LayerConfig(timeframe="1h", description="intraday swing signals"),
            "execution": LayerConfig(timeframe="1m", description="entry/exit timing"),
        },
        description="The search layers: configurations of the same engine.")
