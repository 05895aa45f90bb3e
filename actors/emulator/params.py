"""Request parameters as Binance reads them, and numbers as Binance writes them.

Readers raise :class:`~actors.emulator.errors.BinanceError` with Binance's codes: -1102 for a
missing mandatory parameter, -1100 for illegal characters, -1130 for a value out of range.
:func:`fmt` writes a float the way Binance does (8 decimals) unless that would lose digits,
in which case it writes the float's shortest exact decimal (never scientific notation), so a
client parsing the text gets back the very float the emulator booked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from actors.emulator.errors import (
    CLIENT_ID_RANGE,
    DECIMAL_RANGE,
    INTEGER_RANGE,
    illegal,
    invalid_value,
    mandatory,
)

_DECIMAL = re.compile(DECIMAL_RANGE)
_INTEGER = re.compile(INTEGER_RANGE)
_CLIENT_ID = re.compile(CLIENT_ID_RANGE)


def fmt(value: float) -> str:
    """Binance's text of a number: ``"0.00100000"``; the shortest exact decimal when needed."""
    value = float(value)
    text = f"{value:.8f}"
    if float(text) == value:
        return text
    return format(Decimal(repr(value)), "f")


def fmt_decimal(value: Decimal) -> str:
    """A decimal parameter echoed back with at least 8 decimals, as Binance does."""
    text = format(value, "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(8, '0')}"


class Params:
    """Read-only view of a request's parameters with Binance's parsing rules.

    Args:
        values: Query string and form body merged.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def raw(self, name: str) -> str | None:
        """The parameter's text; None when absent or empty (Binance treats both alike)."""
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def has(self, name: str) -> bool:
        """Whether the parameter was sent with a value."""
        return self.raw(name) is not None

    def text(self, name: str) -> str:
        """A mandatory text parameter."""
        value = self.raw(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str, required: bool = True) -> Decimal | None:
        """A decimal parameter such as ``quantity`` (at most 20 digits, then 20 decimals)."""
        value = self.raw(name)
        if value is None:
            if required:
                raise mandatory(name)
            return None
        if not _DECIMAL.match(value):
            raise illegal(name, DECIMAL_RANGE)
        return Decimal(value)

    def integer(self, name: str, required: bool = False, default: int | None = None
                ) -> int | None:
        """A non-negative integer parameter such as ``orderId`` or ``startTime``."""
        value = self.raw(name)
        if value is None:
            if required:
                raise mandatory(name)
            return default
        if not _INTEGER.match(value):
            raise illegal(name, INTEGER_RANGE)
        return int(value)

    def limit(self, name: str = "limit", default: int = 500, maximum: int = 1000) -> int:
        """A ``limit`` parameter: 1 .. ``maximum`` (-1130 outside)."""
        value = self.integer(name, default=default)
        assert value is not None
        if not 1 <= value <= maximum:
            raise invalid_value(name)
        return value

    def choice(self, name: str, allowed: Sequence[str], error: Exception | None = None,
               required: bool = True, default: str | None = None) -> str | None:
        """An enum parameter; ``error`` (default -1100) when the value is not allowed."""
        value = self.raw(name)
        if value is None:
            if required:
                raise mandatory(name)
            return default
        if value not in allowed:
            raise error if error is not None else illegal(name, ", ".join(allowed))
        return value

    def client_id(self, name: str) -> str | None:
        """A client order id (``^[a-zA-Z0-9-_]{1,36}$``), None when not sent."""
        value = self.raw(name)
        if value is None:
            return None
        if not _CLIENT_ID.match(value):
            raise illegal(name, CLIENT_ID_RANGE)
        return value

    def as_dict(self) -> dict[str, str]:
        """A copy of every parameter."""
        return dict(self._values)
