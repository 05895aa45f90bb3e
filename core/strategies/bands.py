"""The entry/exit z-score band shared by the mean-reversion and pairs strategies."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from configs.base import StrictModel


class ZBandParams(StrictModel):
    """Enter beyond ``entry_z``; exit once z is back inside ``exit_z`` (hysteresis)."""

    entry_z: float = Field(
        2.0, gt=0.0, le=100.0, allow_inf_nan=False, description="|z| beyond which to enter."
    )
    exit_z: float = Field(
        0.5,
        ge=0.0,
        le=100.0,
        allow_inf_nan=False,
        description="Exit once z is back inside -exit_z (long) / exit_z (short); < entry_z.",
    )

    @model_validator(mode="after")
    def _exit_inside_entry(self) -> Self:
        if self.exit_z >= self.entry_z:
            raise ValueError(
                f"exit_z must be less than entry_z (got entry_z={self.entry_z}, "
                f"exit_z={self.exit_z})"
            )
        return self
