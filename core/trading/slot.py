"""The strategy slot's pure engine: bars in, target changes out as :class:`Signal` objects.

IO contract: ``SymbolData + Portfolio + RiskLimits in, list[Signal] out``. A
:class:`StrategyRunner` wraps a built-in strategy (``core.strategies`` registry: name +
params) or an alpha expression (``core.dsl``: text + signal -> position mapping) and feeds each
batch to a streaming engine (:mod:`core.strategies.engines`): the cost of a step and the
runner's memory depend on the strategy's windows and the batch size, never on the history,
and the targets equal those of the very functions the backtester uses (``spec.compute`` /
``evaluate`` + ``map_positions`` over the whole history) bit for bit, so SIM reproduces the
backtest exactly. A plug-in spec without a streaming twin falls back to recomputing its whole
history, whose past targets must not change (else it is refused as not causal).

Target semantics are the backtester's: NaN is "no instruction, keep", so the target in force
(the *effective* target) is the last non-NaN target, 0 before the first one. A signal is
emitted at each bar where the effective target of a symbol differs from the previous bar's
(the first ever bar: where it is non-zero). A strategy exception is contained: the output
holds the error text and no signal, the target in force is kept, and the runner stays usable
(the failed bars are computed with the next batch, so later targets are still exact).

Only the last :data:`RETAINED_BATCHES` batches are kept, to answer a retried batch with the
same output and to tell a repeated batch from time going backwards.
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
from core.data.candles import SeriesMeta
from core.data.timeframes import TIMEFRAME_MS
from core.dsl.hashing import canonical_text
from core.dsl.parser import parse
from core.dsl.printer import to_text
from core.errors import BacktestError, DataValidationError
from core.strategies.engines import (
    Engine,
    EngineState,
    StreamEngineState,
    alpha_engine,
    builtin_engine,
)
from core.strategies.registry import StrategySpec, get_strategy, parse_params
from core.trading.messages import DiaryEntry, MarketBatch, PortfolioSnapshot, Signal

_COLUMNS = ("open", "high", "low", "close", "volume")
_TIMEFRAMES = {ms: name for name, ms in TIMEFRAME_MS.items()}

RETAINED_BATCHES = 4
"""Most recent batches a runner keeps (to replay a retried batch identically)."""
RETAINED_BARS = 10_000
"""Most bars those batches may hold together (the oldest are cut first, e.g. after a catch-up
batch of the whole history)."""


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

    def to_dict(self) -> dict[str, Any]:
        """The definition as JSON types (:meth:`from_dict` rebuilds it)."""
        body: dict[str, Any] = {"kind": self.kind, "name": self.name}
        if self.kind == "builtin":
            body["params"] = dict(self.params)
        else:
            body["expression"] = self.expression
            body["mapping"] = dict(self.mapping)
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> StrategyDefinition:
        """The definition of :meth:`to_dict`'s content.

        Raises:
            KeyError: ``kind`` or ``name`` is missing.
        """
        return cls(body["kind"], body["name"], tuple(sorted(body.get("params", {}).items())),
                   body.get("expression", ""), tuple(sorted(body.get("mapping", {}).items())))

    @property
    def hash(self) -> str:
        """16 hex characters of the sha256 of the canonical definition."""
        body = self.to_dict()
        if self.kind == "alpha":
            body["expression"] = canonical_text(self.expression)
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def strategy_id(self) -> str:
        """Stable id: ``<name>-<first 8 hex of the hash>``."""
        return f"{self.name}-{self.hash[:8]}"


def builtin_definition(name: str, params: str | Mapping[str, Any] = "", *,
                       spec: StrategySpec | None = None) -> StrategyDefinition:
    """The canonical definition of registry strategy ``name`` with ``params``.

    Every parameter is validated and written out, defaults included, so the same strategy
    has the same definition however its parameters were given.
    """
    model = parse_params(spec or get_strategy(name), params)
    return StrategyDefinition("builtin", name,
                              params=tuple(sorted(model.model_dump(mode="json").items())))


def alpha_definition(expression: str, mapping: MappingConfig | None = None, *,
                     name: str = "alpha") -> StrategyDefinition:
    """The canonical definition of an alpha.

    The expression is kept as the DSL prints it, and every mapping setting is written out.
    """
    settings = (mapping or MappingConfig()).model_dump(mode="json")
    return StrategyDefinition("alpha", name, expression=to_text(parse(expression)),
                              mapping=tuple(sorted(settings.items())))


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
class BatchRecord:
    """One recent batch as the runner saw and answered it.

    Attributes:
        start: Index of its first bar in the runner's history.
        ts: Bar open times ``(bars,)``.
        bars: OHLCV of the runner's symbols, ``(5, bars, symbols)``.
        targets: Raw targets ``(bars, symbols)`` (all NaN if the batch failed).
        effective: Target in force at each bar ``(bars, symbols)``.
        signal: Alpha signal ``(bars, symbols)`` (NaN for built-ins and failures).
        before: Target in force before the batch ``(symbols,)``.
        errors: Strategy failures of the batch (empty if none).
    """

    start: int
    ts: np.ndarray
    bars: np.ndarray
    targets: np.ndarray
    effective: np.ndarray
    signal: np.ndarray
    before: np.ndarray
    errors: tuple[str, ...] = ()

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in (self.ts, self.bars, self.targets, self.effective,
                                      self.signal, self.before))


@dataclass(frozen=True, slots=True)
class RunnerState:
    """A snapshot of a :class:`StrategyRunner`: plain dataclasses of arrays, ints and strings.

    Attributes:
        definition: The strategy.
        symbols: Traded symbols.
        venue: Venue of the bars seen ("" before the first).
        timeframe_ms: Their timeframe (0 before the first).
        n_bars: Bars seen.
        carry: Last non-NaN target computed per symbol (0 before one).
        recent: The last batches, oldest first.
        engine: The target engine's state.
    """

    definition: StrategyDefinition
    symbols: tuple[str, ...]
    venue: str
    timeframe_ms: int
    n_bars: int
    carry: np.ndarray
    recent: tuple[BatchRecord, ...]
    engine: EngineState

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (the snapshot's size, roughly)."""
        return self.carry.nbytes + sum(r.nbytes for r in self.recent) + self.engine.nbytes


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
                 spec: StrategySpec | None = None, _engine: EngineState | None = None) -> None:
        self._definition = definition
        self._symbols = tuple(symbols)
        self._id, self._hash = definition.strategy_id, definition.hash
        k = len(self._symbols)
        self._engine: Engine
        if definition.kind == "builtin":
            self._spec = spec or get_strategy(definition.name)
            self._params = parse_params(self._spec, dict(definition.params))
            if k != self._spec.symbols:
                raise BacktestError(f"strategy {definition.name!r} takes {self._spec.symbols} "
                                    f"symbol(s), got {k}")
            self._engine = builtin_engine(self._spec, self._params, k, _engine)
        else:
            self._node = parse(definition.expression)
            self._mapping = MappingConfig(**dict(definition.mapping))
            assert _engine is None or isinstance(_engine, StreamEngineState)
            self._engine = alpha_engine(self._node, self._mapping, k, _engine)
        self._venue, self._timeframe_ms = "", 0
        self._n_bars = 0
        self._carry = np.zeros(k)
        self._recent: list[BatchRecord] = []

    @classmethod
    def builtin(cls, name: str, params: str | Mapping[str, Any] = "",
                symbols: Sequence[str] = ("BTC/USDT",), *, spec: StrategySpec | None = None
                ) -> StrategyRunner:
        """A runner of the registry strategy ``name`` with ``params`` (``k=v`` text or map)."""
        spec = spec or get_strategy(name)
        return cls(builtin_definition(name, params, spec=spec), symbols, spec=spec)

    @classmethod
    def alpha(cls, expression: str, symbols: Sequence[str], mapping: MappingConfig | None = None,
              *, name: str = "alpha") -> StrategyRunner:
        """A runner of an alpha expression, its signal mapped to targets by ``mapping``."""
        return cls(alpha_definition(expression, mapping, name=name), symbols)

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
        return self._n_bars

    @property
    def required_direction(self) -> Literal["long_only", "long_short"] | None:
        """Direction the backtest of a built-in uses (None for alphas: the config decides)."""
        if self._definition.kind != "builtin":
            return None
        return self._spec.direction_for(self._params)

    @property
    def target_in_force(self) -> np.ndarray:
        """Effective target of each symbol at the last bar seen (0 before any), a copy."""
        if not self._recent:
            return np.zeros(len(self._symbols))
        return self._recent[-1].effective[-1].copy()

    @property
    def recent_ts(self) -> np.ndarray:
        """Open times of the retained (most recent) bars, oldest first."""
        return np.concatenate([r.ts for r in self._recent] or [np.empty(0, np.int64)])

    @property
    def recent_targets(self) -> np.ndarray:
        """Raw targets of the retained bars ``(bars, symbols)`` (NaN = keep), a copy."""
        return self._stack("targets")

    @property
    def recent_effective(self) -> np.ndarray:
        """Target in force at each retained bar ``(bars, symbols)``, a copy."""
        return self._stack("effective")

    def to_state(self) -> RunnerState:
        """A snapshot; :meth:`from_state` resumes from it."""
        return RunnerState(self._definition, self._symbols, self._venue, self._timeframe_ms,
                           self._n_bars, self._carry.copy(), tuple(self._recent),
                           self._engine.to_state())

    @classmethod
    def from_state(cls, state: RunnerState, *, spec: StrategySpec | None = None
                   ) -> StrategyRunner:
        """Rebuild a runner from :meth:`to_state` through the cold-start constructor."""
        runner = cls(state.definition, state.symbols, spec=spec, _engine=state.engine)
        runner._venue, runner._timeframe_ms = state.venue, state.timeframe_ms
        runner._n_bars, runner._carry = state.n_bars, state.carry.copy()
        runner._recent = list(state.recent)
        return runner

    def on_batch(self, batch: MarketBatch, portfolio: PortfolioSnapshot | None = None,
                 limits: RiskLimits | None = None) -> SlotOutput:
        """Compute the targets of a batch causally and emit the changes.

        A batch that repeats recent bars (a retried step) gets the same output again.

        Args:
            batch: Bars of at least this runner's symbols.
            portfolio: The book (part of the contract; built-ins and alphas do not size, the
                risk guardian enforces the limits).
            limits: Risk limits in force (same remark).

        Returns:
            The signals, diary entries and errors of the batch's bars.

        Raises:
            DataValidationError: Missing symbol, other venue or timeframe, corrupt prices,
                time going backwards, or a repeated batch that differs from the bars seen
                (or is older than the retained batches).
        """
        del portfolio, limits
        columns = self._intake(batch)
        if columns is None:
            return self._replayed(batch)
        ts = np.asarray(batch.ts, dtype=np.int64)
        bars = np.stack([np.asarray(getattr(batch, name), dtype=np.float64)[:, columns]
                         for name in _COLUMNS])
        self._venue, self._timeframe_ms = batch.venue, batch.timeframe_ms
        n, k = len(ts), len(self._symbols)
        before = self.target_in_force
        meta = [SeriesMeta(self._venue, s, _TIMEFRAMES[self._timeframe_ms])
                for s in self._symbols]
        errors: tuple[str, ...] = ()
        try:
            targets, signal = self._engine.advance(ts, tuple(bars), meta)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a strategy failure must not kill the slot
            errors = (f"{self._id}: {type(exc).__name__}: {exc}",)
            targets, signal = np.full((n, k), np.nan), np.full((n, k), np.nan)
            effective = np.tile(before, (n, 1))
        else:
            late, targets, signal = targets[:-n], targets[-n:], signal[-n:]
            self._carry = _forward_fill(late, self._carry)[-1] if len(late) else self._carry
            effective = _forward_fill(targets, self._carry)
            self._carry = effective[-1].copy()
        record = BatchRecord(self._n_bars, ts, bars, targets, effective, signal, before, errors)
        self._n_bars += n
        self._retain(record)
        return self._output(record, 0, n)

    def holds(self, batch: MarketBatch) -> bool:
        """True when the batch's bars are all among the retained ones (a repeat: answered)."""
        kept = self.recent_ts
        ts = np.asarray(batch.ts, dtype=np.int64)
        return bool(kept.size and ts.size and ts[0] >= kept[0] and ts[-1] <= kept[-1])

    # -------------------------------------------------------------- internals
    def _retain(self, record: BatchRecord) -> None:
        """Keep ``record`` and the batches before it, within the batch and bar bounds."""
        recent = [*self._recent, record][-RETAINED_BATCHES:]
        excess = sum(len(r.ts) for r in recent) - RETAINED_BARS
        while excess > 0:
            oldest = recent[0]
            if len(oldest.ts) <= excess:
                recent.pop(0)
                excess -= len(oldest.ts)
                continue
            cut = excess
            recent[0] = BatchRecord(oldest.start + cut, oldest.ts[cut:].copy(),
                                    oldest.bars[:, cut:].copy(), oldest.targets[cut:].copy(),
                                    oldest.effective[cut:].copy(), oldest.signal[cut:].copy(),
                                    oldest.effective[cut - 1].copy(), oldest.errors)
            excess = 0
        self._recent = recent

    def _stack(self, name: str) -> np.ndarray:
        parts = [getattr(r, name) for r in self._recent]
        return np.concatenate(parts) if parts else np.empty((0, len(self._symbols)))

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
        if self._recent and ts[0] <= self._recent[-1].ts[-1]:
            return None
        return columns

    def _replayed(self, batch: MarketBatch) -> SlotOutput:
        """The output of a batch whose bars are all among the retained ones (identical)."""
        ts = np.asarray(batch.ts, dtype=np.int64)
        columns = [batch.symbols.index(s) for s in self._symbols]
        kept = self.recent_ts
        start = int(np.searchsorted(kept, ts[0]))
        stop = start + len(ts)
        same = (kept.size > 0 and ts[0] >= kept[0] and stop <= kept.size
                and np.array_equal(kept[start:stop], ts))
        if same:
            bars = np.concatenate([r.bars for r in self._recent], axis=1)
            for index, name in enumerate(_COLUMNS):
                same = same and np.array_equal(bars[index, start:stop],
                                               np.asarray(getattr(batch, name))[:, columns])
        if not same:
            raise DataValidationError(
                f"time went backwards: batch starts at {int(ts[0])}, history ends at "
                f"{int(self._recent[-1].ts[-1])}, and the bars differ from the last "
                f"{kept.size} seen (or are older)",
                source=f"batch {batch.seq} of {self._id}", timestamp_ms=int(ts[0]))
        offset = 0
        for record in self._recent:
            size = len(record.ts)
            if (offset, offset + size) == (start, stop) and record.errors:
                return SlotOutput(errors=list(record.errors), targets=record.targets.copy())
            offset += size
        merged = BatchRecord(0, kept, np.concatenate([r.bars for r in self._recent], axis=1),
                             self._stack("targets"), self._stack("effective"),
                             self._stack("signal"),
                             self._recent[0].before)
        return self._output(merged, start, stop)

    def _output(self, record: BatchRecord, start: int, stop: int) -> SlotOutput:
        """Signals and diary of bars ``start:stop`` of ``record``."""
        if record.errors:
            return SlotOutput(errors=list(record.errors), targets=record.targets.copy())
        effective = record.effective[start:stop]
        first = record.effective[start - 1] if start else record.before
        before = np.vstack((first[None, :], effective[:-1]))
        signals, diary = [], []
        for i, j in zip(*np.nonzero(effective != before), strict=True):
            bar, symbol = start + int(i), self._symbols[j]
            ts, prev, cur = int(record.ts[bar]), float(before[i, j]), float(effective[i, j])
            features = [("close", float(record.bars[3, bar, j])), ("target", cur),
                        ("previous_target", prev)]
            if self._definition.kind == "alpha":
                features.append(("signal", float(record.signal[bar, j])))
            decision = f"target {prev:g} -> {cur:g}"
            signals.append(Signal(self._id, symbol, ts, cur, reason=decision))
            diary.append(DiaryEntry(ts, self._id, self._hash, symbol, tuple(features), decision))
        return SlotOutput(signals, diary, [], record.targets[start:stop].copy())


def _forward_fill(targets: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """Last non-NaN target at each bar per column, ``carry`` before the first one."""
    n = targets.shape[0]
    index = np.where(np.isnan(targets), 0, np.arange(1, n + 1)[:, None])
    index = np.maximum.accumulate(index, axis=0)
    padded = np.vstack((carry[None, :], targets))
    return np.take_along_axis(padded, index, axis=0)
