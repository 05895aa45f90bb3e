"""The project's single exception hierarchy.

Every class states what the system does when it is raised, so callers can decide by type
(retry, stop, exit with a usage error) instead of parsing messages. Adapters translate the
errors of their libraries (ccxt, pyarrow, sqlite, ...) into these types at the boundary.
"""

from __future__ import annotations


class EvotraderError(Exception):
    """Base of all project errors.

    Attributes:
        exit_code: Process exit code a command-line entry point uses when this error ends it.
    """

    exit_code: int = 1


class UsageError(EvotraderError):
    """Bad command-line usage. The CLI prints the message with a hint and exits with code 2."""

    exit_code = 2


class ConfigError(EvotraderError):
    """Invalid configuration (unknown key, wrong type, out of range, secret in a file).

    Raised before anything runs; the CLI prints every problem and exits with code 2.
    """

    exit_code = 2


class DataError(EvotraderError):
    """Market data cannot be used as given. Never retried: the data must be fixed or replaced."""

    exit_code = 2


class DataNotFoundError(DataError):
    """A requested series (venue, symbol, timeframe) or window holds no data."""


class FeedNeverStartedError(DataError):
    """A live feed stopped before it delivered its first bar (the venue never served one).

    There is no price to mark the symbol at: the session stops with this as its reason.
    """


class DataValidationError(DataError):
    """A candle series violates an invariant (NaN, non-positive price, time going backwards, ...).

    The message names the source, the row and the timestamp of the first offending bar.

    Attributes:
        source: Where the data came from (file path or description).
        row: Zero-based row index of the first offending bar, if known.
        timestamp_ms: Open time of the offending bar in ms since the epoch (UTC), if known.
        problem: Short description of the violated invariant.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str,
        row: int | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.timestamp_ms = timestamp_ms
        self.problem = problem
        where = [f"source {source}"]
        if row is not None:
            where.append(f"row {row}")
        if timestamp_ms is not None:
            where.append(f"timestamp {timestamp_ms} ({_iso(timestamp_ms)})")
        super().__init__(f"{problem} ({', '.join(where)})")


class ExchangeError(EvotraderError):
    """Base of errors reported by or on the way to a trading venue."""


class TemporaryExchangeError(ExchangeError):
    """Network failure, timeout, 5xx or maintenance: retried with backoff, then surfaced."""


class RateLimitError(TemporaryExchangeError):
    """The venue asked us to slow down (HTTP 429/418): retried after a longer backoff."""


class PermanentExchangeError(ExchangeError):
    """The venue refused the request for good (bad symbol, auth, invalid order): not retried."""


class OrderOutcomeUnknownError(TemporaryExchangeError):
    """A create's answer never came, or the venue said its execution status is unknown.

    The order may exist: it is looked up by client order id, never sent again blindly.
    """


class VenueClockError(TemporaryExchangeError):
    """The venue refused a request's timestamp (outside its receive window): resync, resend."""


class OrderNotFoundError(PermanentExchangeError):
    """The venue confirmed it has no such order (Binance -2013 / -2011)."""


class DuplicateOrderError(PermanentExchangeError):
    """The venue already has an order with this client order id: look it up."""


class OrderRejectedError(PermanentExchangeError):
    """The venue refused an order for good; ``reason`` is a stable code for the record."""

    reason = "venue_rejected"


class BacktestError(EvotraderError):
    """Inputs to the backtester are inconsistent (shapes, dtypes, parameters). Not retried."""

    exit_code = 2


def _iso(timestamp_ms: int) -> str:
    """Format epoch milliseconds as an ISO-8601 UTC string without touching the wall clock."""
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class DSLError(EvotraderError):
    """An alpha expression is malformed, wrongly typed or too large. CLI exit code 2.

    Attributes:
        position: Zero-based character offset in the expression text, if known.
    """

    exit_code = 2

    def __init__(self, message: str, *, position: int | None = None) -> None:
        self.position = position
        super().__init__(message)


class RegistryError(EvotraderError):
    """The trial registry cannot be read or written (corrupt, locked, newer schema, unknown trial).

    Not retried: the store must be fixed or the call corrected.
    """


class LifecycleError(RegistryError):
    """A lifecycle transition the alpha lifecycle does not allow (e.g. born -> active)."""
