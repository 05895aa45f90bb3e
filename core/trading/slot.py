"""The strategy slot's pure engine: bars in, target changes out as :class:`Signal` objects.

IO contract: ``SymbolData + Portfolio + RiskLimits in, list[Signal] out``. A
:class:`StrategyRunner` wraps a built-in strategy (``core.strategies`` registry: name +
params) or an alpha expression (``core.dsl``: text + signal -> position mapping). Each batch is
appended to the runner's history and the strategy is recomputed on the whole history with the
very function the backtester uses (``spec.compute`` / ``evaluate`` + ``map_positions``), so
SIM reproduces the backtest exactly. The targets of past bars must not change; if they do the
strategy is not causal and the batch is refused like a strategy exception.

Target semantics are the backtester's: NaN is "no instruction, keep", so the target in force
(the *effective* target) is the last non-NaN target, 0 before the first one. A signal is
emitted at each bar where the effective target of a symbol differs from the previous bar's
(the first ever bar: where it is non-zero). A strategy exception is contained: the output
holds the error text and no signal, the target in force is kept, and the runner stays usable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from configs.alpha import MappingConfig
from configs.risk import RiskLimits
from core.backtest.market import MarketArrays
from core.data.candles import Candles, SeriesMeta
from core.data.timeframes import TIMEFRAME_MS
from core.dsl.data import AlphaData
from core.dsl.evaluate import evaluate
from core.dsl.hashing import canonical_text
from core.dsl.parser import parse
from core.dsl.positions import map_positions
from core.dsl.printer import to_text
from core.errors import BacktestError, DataValidationError
from core.strategies.registry import StrategySpec, get_strategy, parse_params
from core.trading.messages import DiaryEntry, MarketBatch, PortfolioSnapshot, Signal

_COLUMNS = ("open", "high", "low", "close", "volume")
_TIMEFRAMES = {ms: name for name, ms in TIMEFRAME_MS.items()}


@dataclass(frozen=True, slots=True)
class StrategyDefinition:
    """What a slot runs, in canonical form (its hash is the strategy's identity).

    Attributes:
        kind: ``"builtin"`` (registry strategy) or ``"alpha"`` (DSL expression).
        name: Registry name, or the alpha's label.
        params: Built-in: every validated parameter (defaults included), sorted.
        expression: Alpha: the expression's text as parsed and printed.
        mapping: Alpha: the signal -> position mapping settings, sorted.
    """

    kind: Literal["builtin", "alpha"]
    name: str
    params: tuple[tuple[str, Any], ...] = ()
    expression: str = ""
    mapping: tuple[tuple[str, Any], ...] = ()

    @property
    def hash(self) -> str:
        """16 hex characters of the sha256 of the canonical definition."""
        body: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.kind == "builtin":
            body["params"] = dict(self.params)
        else:
            body["expression"] = canonical_text(self.expression)
            body["mapping"] = dict(self.mapping)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def strategy_id(self) -> str:
        """Stable id: ``<name>-<first 8 hex of the hash>``."""
        return f"{self.name}-{self.hash[:8]}"


@dataclass(frozen=True, slots=True)
class SlotOutput:
    """What one batch produced.

    Attributes:
        signals: One per (bar, symbol) whose effective target changed, in bar then symbol order.
        diary: One entry per signal: features behind it and the strategy hash.
        errors: Strategy failures of this batch (then ``signals`` is empty).
        targets: The strategy's raw targets of the batch's bars, ``(n_bars, n_symbols)`` (NaN
            = keep; all NaN when the batch failed).
    """

    signals: list[Signal] = field(default_factory=list)
    diary: list[DiaryEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    targets: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class RunnerState:
    """A pickleable snapshot of a :class:`StrategyRunner` (its definition and history)."""

    definition: StrategyDefinition
    symbols: tuple[str, ...]
    venue: str
    timeframe_ms: int
    history: dict[str, np.ndarray]
    failures: tuple[tuple[int, int, tuple[str, ...]], ...]


class StrategyRunner:
    """Runs one strategy causally over batches of bars.

    Build it with :meth:`builtin` or :meth:`alpha`; feed it with :meth:`on_batch`.

    Args:
        definition: The strategy.
        symbols: Traded symbols, in the order the strategy expects (pairs: A, B).
        spec: Built-ins only: use this spec instead of the registry's (tests, plug-ins).

    Raises:
        BacktestError: Unknown built-in or invalid parameters, or a wrong number of symbols.
        DSLError: A malformed alpha expression.
    """

    def __init__(self, definition: StrategyDefinition, symbols: Sequence[str], *,
                 spec: StrategySpec | None = None) -> None:
        self._definition = definition
        self._symbols = tuple(symbols)
        self._id, self._hash = definition.strategy_id, definition.hash
        if definition.kind == "builtin":
            self._spec = spec or get_strategy(definition.name)
            self._params = parse_params(self._spec, dict(definition.params))
            if len(self._symbols) != self._spec.symbols:
                raise BacktestError(f"strategy {definition.name!r} takes {self._spec.symbols} "
                                    f"symbol(s), got {len(self._symbols)}")
        else:
            self._node = parse(definition.expression)
            self._mapping = MappingConfig(**dict(definition.mapping))
        self._venue, self._timeframe_ms = "", 0
        k = len(self._symbols)
        self._h: dict[str, np.ndarray] = {"ts": np.empty(0, np.int64),
                                          "known": np.empty(0, bool)}
        for name in (*_COLUMNS, "targets", "effective", "signal"):
            self._h[name] = np.empty((0, k))
        self._failures: list[tuple[int, int, tuple[str, ...]]] = []

    @classmethod
    def builtin(cls, name: str, params: str | Mapping[str, Any] = "",
                symbols: Sequence[str] = ("BTC/USDT",), *, spec: StrategySpec | None = None
                ) -> StrategyRunner:
        """A runner of the registry strategy ``name`` with ``params`` (``k=v`` text or map)."""
        spec = spec or get_strategy(name)
        model = parse_params(spec, params)
        values = tuple(sorted(model.model_dump(mode="json").items()))
        return cls(StrategyDefinition("builtin", name, params=values), symbols, spec=spec)

    @classmethod
    def alpha(cls, expression: str, symbols: Sequence[str], mapping: MappingConfig | None = None,
              *, name: str = "alpha") -> StrategyRunner:
        """A runner of an alpha expression, its signal mapped to targets by ``mapping``."""
        text = to_text(parse(expression))
        settings = (mapping or MappingConfig()).model_dump(mode="json")
        definition = StrategyDefinition("alpha", name, expression=text,
                                        mapping=tuple(sorted(settings.items())))
        return cls(definition, symbols)

    @property
    def strategy_id(self) -> str:
        """Stable id (name + short hash of the definition)."""
        return self._id

    @property
    def strategy_hash(self) -> str:
        """Hash of the definition (16 hex)."""
        return self._hash

    @property
    def definition(self) -> StrategyDefinition:
        """The strategy run."""
        return self._definition

    @property
    def symbols(self) -> tuple[str, ...]:
        """Traded symbols."""
        return self._symbols

    @property
    def n_bars(self) -> int:
        """Bars seen so far."""
        return int(self._h["ts"].shape[0])

    @property
    def required_direction(self) -> Literal["long_only", "long_short"] | None:
        """Direction the backtest of a built-in uses (None for alphas: the config decides)."""
        if self._definition.kind != "builtin":
            return None
        return self._spec.direction_for(self._params)

    @property
    def targets(self) -> np.ndarray:
        """Raw targets of every bar seen (NaN = keep), ``(n_bars, n_symbols)``, a copy."""
        return self._h["targets"].copy()

    @property
    def effective_targets(self) -> np.ndarray:
        """Target in force at each bar seen, ``(n_bars, n_symbols)``, a copy."""
        return self._h["effective"].copy()

    def to_state(self) -> RunnerState:
        """A pickleable snapshot; :meth:`from_state` resumes from it."""
        return RunnerState(self._definition, self._symbols, self._venue, self._timeframe_ms,
                           {name: values.copy() for name, values in self._h.items()},
                           tuple(self._failures))

    @classmethod
    def from_state(cls, state: RunnerState, *, spec: StrategySpec | None = None
                   ) -> StrategyRunner:
        """Rebuild a runner from :meth:`to_state` through the cold-start constructor."""
        runner = cls(state.definition, state.symbols, spec=spec)
        runner._venue, runner._timeframe_ms = state.venue, state.timeframe_ms
        runner._h = {name: values.copy() for name, values in state.history.items()}
        runner._failures = list(state.failures)
        return runner

    def on_batch(self, batch: MarketBatch, portfolio: PortfolioSnapshot | None = None,
                 limits: RiskLimits | None = None) -> SlotOutput:
        """Append a batch, recompute the targets causally and emit the changes.

        A batch that repeats bars already seen (a retried step) gets the same output again.

        Args:
            batch: Bars of at least this runner's symbols.
            portfolio: The book (part of the contract; built-ins and alphas do not size, the
                risk guardian enforces the limits).
            limits: Risk limits in force (same remark).

        Returns:
            The signals, diary entries and errors of the batch's bars.

        Raises:
            DataValidationError: Missing symbol, other venue or timeframe, corrupt prices,
                time going backwards, or a repeated batch that differs from the bars seen.
        """
        del portfolio, limits
        columns = self._intake(batch)
        if columns is None:
            return self._replayed(batch)
        start = self.n_bars
        self._append(batch, columns)
        stop = self.n_bars
        try:
            targets, signal = self._compute()
            self._check_causal(targets, start)
        except Exception as exc:  # noqa: BLE001 - a strategy failure must not kill the slot
            message = f"{self._id}: {type(exc).__name__}: {exc}"
            self._failures.append((start, stop, (message,)))
            held = self._h["effective"][start - 1] if start else np.zeros(len(self._symbols))
            self._h["effective"][start:] = held
            return SlotOutput(errors=[message], targets=self._h["targets"][start:].copy())
        known = self._h["known"]
        self._h["targets"][~known] = targets[~known]
        self._h["signal"][~known] = signal[~known]
        known[:] = True
        self._h["effective"][start:] = _forward_fill(targets)[start:]
        return self._emit(start, stop)

    # -------------------------------------------------------------- internals
    def _intake(self, batch: MarketBatch) -> list[int] | None:
        """Validate a batch; return its column of each symbol, None if it repeats history."""
        source = f"batch {batch.seq} of {self._id}"
        missing = [s for s in self._symbols if s not in batch.symbols]
        if missing:
            raise DataValidationError(f"batch lacks symbol(s) {', '.join(missing)}", source=source)
        if batch.timeframe_ms not in _TIMEFRAMES:
            raise DataValidationError(f"unsupported timeframe {batch.timeframe_ms} ms",
                                      source=source)
        if self.n_bars and (batch.venue, batch.timeframe_ms) != (self._venue, self._timeframe_ms):
            raise DataValidationError(
                f"batch is {batch.venue} {batch.timeframe_ms} ms, history is {self._venue} "
                f"{self._timeframe_ms} ms", source=source)
        columns = [batch.symbols.index(s) for s in self._symbols]
        ts = np.asarray(batch.ts, dtype=np.int64)
        if ts.size == 0 or np.any(np.diff(ts) <= 0):
            raise DataValidationError("timestamps must be non-empty and strictly increasing",
                                      source=source)
        for name in _COLUMNS:
            values = np.asarray(getattr(batch, name))[:, columns]
            floor_ok = values >= 0.0 if name == "volume" else values > 0.0
            bad = np.flatnonzero(~(np.isfinite(values) & floor_ok).all(axis=1))
            if bad.size:
                row = int(bad[0])
                raise DataValidationError(f"{name} is not finite and positive", source=source,
                                          row=row, timestamp_ms=int(ts[row]))
        if self.n_bars and ts[0] <= self._h["ts"][-1]:
            return None
        return columns

    def _replayed(self, batch: MarketBatch) -> SlotOutput:
        """The output of a batch whose bars were all seen before (identical bars only)."""
        ts = np.asarray(batch.ts, dtype=np.int64)
        start = int(np.searchsorted(self._h["ts"], ts[0]))
        stop = start + len(ts)
        same = stop <= self.n_bars and np.array_equal(self._h["ts"][start:stop], ts)
        columns = [batch.symbols.index(s) for s in self._symbols]
        for name in _COLUMNS:
            same = same and np.array_equal(self._h[name][start:stop],
                                           np.asarray(getattr(batch, name))[:, columns])
        if not same:
            raise DataValidationError(
                f"time went backwards: batch starts at {int(ts[0])}, history ends at "
                f"{int(self._h['ts'][-1])}, and the bars differ from those seen",
                source=f"batch {batch.seq} of {self._id}", timestamp_ms=int(ts[0]))
        for lo, hi, errors in self._failures:
            if (lo, hi) == (start, stop):
                return SlotOutput(errors=list(errors),
                                  targets=np.full((stop - start, len(self._symbols)), np.nan))
        return self._emit(start, stop)

    def _append(self, batch: MarketBatch, columns: list[int]) -> None:
        n, k = batch.n_bars, len(self._symbols)
        self._venue, self._timeframe_ms = batch.venue, batch.timeframe_ms
        new = {"ts": np.asarray(batch.ts, dtype=np.int64), "known": np.zeros(n, bool),
               "targets": np.full((n, k), np.nan), "effective": np.zeros((n, k)),
               "signal": np.full((n, k), np.nan)}
        for name in _COLUMNS:
            new[name] = np.asarray(getattr(batch, name), dtype=np.float64)[:, columns]
        self._h = {name: np.concatenate((self._h[name], new[name])) for name in self._h}

    def _compute(self) -> tuple[np.ndarray, np.ndarray]:
        """Targets (and alpha signal) of the whole history, checked for shape and range."""
        h, n, k = self._h, self.n_bars, len(self._symbols)
        if self._definition.kind == "builtin":
            meta = [SeriesMeta(self._venue, s, _TIMEFRAMES[self._timeframe_ms])
                    for s in self._symbols]
            candles = [Candles(h["ts"], h["open"][:, j], h["high"][:, j], h["low"][:, j],
                               h["close"][:, j], h["volume"][:, j], meta[j]) for j in range(k)]
            targets = np.column_stack(self._spec.compute(candles, self._params))
            signal = np.full((n, k), np.nan)
        else:
            pad = 1 if n == 1 else 0  # MarketArrays needs 2 bars; operators are causal
            rows = np.r_[np.arange(n), np.zeros(pad, int)]
            ts = np.r_[h["ts"], h["ts"][-1:] + self._timeframe_ms][: n + pad]
            market = MarketArrays.from_arrays(
                ts, *(h[c][rows] for c in _COLUMNS), timeframe_ms=self._timeframe_ms,
                symbols=self._symbols, check=False)
            (raw,) = evaluate([self._node], AlphaData.from_market(market))
            signal = np.array(raw[:n], dtype=np.float64)
            targets = map_positions(np.asarray(raw), self._mapping)[:n]
        targets = np.array(targets, dtype=np.float64)
        if targets.shape != (n, k):
            raise ValueError(f"strategy returned targets of shape {targets.shape}, "
                             f"expected {(n, k)}")
        finite = np.isfinite(targets)
        if np.any(np.isinf(targets)) or np.any(np.abs(targets[finite]) > 100.0):
            raise ValueError("targets must be NaN or finite with |target| <= 100")
        return targets, signal

    def _check_causal(self, targets: np.ndarray, start: int) -> None:
        known = self._h["known"][:start]
        old, new = self._h["targets"][:start][known], targets[:start][known]
        moved = ~((old == new) | (np.isnan(old) & np.isnan(new)))
        if moved.any():
            row, col = (int(x[0]) for x in np.nonzero(moved))
            bar = int(self._h["ts"][:start][known][row])
            raise ValueError(f"not causal: the target of {self._symbols[col]} at bar {bar} "
                             f"changed from {old[row, col]!r} to {new[row, col]!r}")

    def _emit(self, start: int, stop: int) -> SlotOutput:
        h, k = self._h, len(self._symbols)
        effective = h["effective"][start:stop]
        before = np.vstack((h["effective"][start - 1: start] if start else np.zeros((1, k)),
                            effective[:-1]))
        signals, diary = [], []
        for i, j in zip(*np.nonzero(effective != before), strict=True):
            bar, symbol = start + int(i), self._symbols[j]
            ts, prev, cur = int(h["ts"][bar]), float(before[i, j]), float(effective[i, j])
            features = [("close", float(h["close"][bar, j])), ("target", cur),
                        ("previous_target", prev)]
            if self._definition.kind == "alpha":
                features.append(("signal", float(h["signal"][bar, j])))
            decision = f"target {prev:g} -> {cur:g}"
            signals.append(Signal(self._id, symbol, ts, cur, reason=decision))
            diary.append(DiaryEntry(ts, self._id, self._hash, symbol, tuple(features), decision))
        return SlotOutput(signals, diary, [], h["targets"][start:stop].copy())


def _forward_fill(targets: np.ndarray) -> np.ndarray:
    """Last non-NaN target at each bar per column, 0.0 before the first one."""
    n = targets.shape[0]
    index = np.where(np.isnan(targets), 0, np.arange(1, n + 1)[:, None])
    index = np.maximum.accumulate(index, axis=0)
    padded = np.vstack((np.zeros((1, targets.shape[1])), targets))
    return np.take_along_axis(padded, index, axis=0)
