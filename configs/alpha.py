"""How an alpha's signal becomes target positions."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from configs.base import StrictModel


class MappingConfig(StrictModel):
    """Signal -> position mapping (see ``core.dsl.positions``)."""

    kind: Literal["sign", "threshold", "zscore", "cs_rank"] = Field(
        "sign", description="sign: +-1 by the signal's sign; threshold: hysteresis bands; "
                            "zscore: time-series z-score scaled to [-1, 1]; cs_rank: "
                            "dollar-neutral weights from cross-sectional ranks.")
    entry: float = Field(1.0, gt=0.0, le=1e6, description="threshold: enter beyond +-entry.")
    exit: float = Field(0.0, ge=0.0, le=1e6, description="threshold: exit inside +-exit.")
    lookback: int = Field(168, ge=2, le=100_000, description="zscore: window in bars.")
    z_cap: float = Field(2.0, gt=0.0, le=100.0, description="zscore: |z| for a full position.")
    max_weight: float = Field(0.5, gt=0.0, le=1.0, description="cs_rank: cap per symbol.")
    step: float = Field(0.25, ge=0.0, le=1.0,
                        description="zscore/cs_rank: targets are multiples of step (0 = off).")

    @model_validator(mode="after")
    def _bands(self) -> Self:
        if self.exit >= self.entry:
            raise ValueError(f"exit ({self.exit}) must be below entry ({self.entry})")
        return self
