"""One identity for a policy: what it trades, how, under which limits, proven on which data.

A :class:`PolicySpec` is the canonical form of everything that decides a policy's orders:

* the strategy (:class:`~core.trading.slot.StrategyDefinition`: a built-in with every
  parameter, or a DSL alpha with its signal -> position mapping);
* how it trades (the :class:`~configs.backtest.BacktestConfig`: direction, sizing, stops,
  costs, lot and notional rules);
* the risk template (:class:`~configs.risk.RiskLimits`);
* the market and the data window it was proven on (symbols, timeframe, first and last bar);
* its provenance: the seed, configuration id and code version of the run that proved it
  (empty for a policy no run proved, such as a configured strategy).

Its canonical JSON (sorted keys, every default written out, the expression as the DSL prints
it) is the same bytes for the same policy however it was written, and :attr:`PolicySpec.hash`
of those bytes is the one identity the registry, the slot, the candidates, the ledger and the
artifacts name it by. :meth:`PolicySpec.from_json` rebuilds it exactly from its JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from configs.alpha import MappingConfig
from configs.backtest import BacktestConfig
from configs.risk import RiskLimits
from core.errors import ConfigError
from core.trading.slot import StrategyDefinition, alpha_definition

SPEC_VERSION = 2
"""Version of the canonical form (part of the hashed bytes); 2 added the provenance."""
ALPHA_NAME = "alpha"
"""The name every alpha has in a spec (its run label is not part of its identity)."""
T = TypeVar("T")


def canonical_json(body: Mapping[str, Any]) -> str:
    """JSON with sorted keys and no spaces: the same content is always the same bytes."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)


Window = tuple[int | None, int | None]
Provenance = tuple[tuple[str, str], ...]
"""Sorted ``(key, value)`` pairs: ``code``, ``config_id``, ``seed`` of the proving run."""
Market = tuple[BacktestConfig, RiskLimits, tuple[str, ...], str, Window, Provenance]
"""How a policy trades and where: trading, risk template, symbols, timeframe, window, and
the provenance of its proof."""


def _market_dict(market: Market) -> dict[str, Any]:
    trading, risk, symbols, timeframe, window, provenance = market
    return {"version": SPEC_VERSION, "trading": trading.model_dump(mode="json"),
            "risk": risk.model_dump(mode="json"), "symbols": list(symbols),
            "timeframe": timeframe, "window": list(window), "provenance": dict(provenance)}


def provenance_of(**values: object) -> Provenance:
    """Provenance pairs from keyword values (None values are left out), sorted."""
    return tuple(sorted((k, str(v)) for k, v in values.items() if v is not None))


def _load(text: str, what: str, build: Callable[[dict[str, Any], Market], T]) -> T:
    """Parse the JSON of a spec or template and ``build`` it from its body and market.

    Raises:
        ConfigError: Not JSON of this version, or a part is invalid (``what`` names it).
    """
    try:
        body = json.loads(text)
        if body["version"] != SPEC_VERSION:
            raise ConfigError(f"{what} version {body['version']} is not {SPEC_VERSION}: "
                              "written by another version of evotrader")
        start, end = body["window"]
        market = (BacktestConfig.model_validate(body["trading"]),
                  RiskLimits.model_validate(body["risk"]), tuple(body["symbols"]),
                  str(body["timeframe"]), (start, end),
                  tuple(sorted((str(k), str(v)) for k, v in body["provenance"].items())))
        return build(body, market)
    except ConfigError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a {what}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy in canonical form (see the module doc).

    Attributes:
        strategy: The strategy's canonical definition.
        trading: How it trades (sizing, stops, costs, ...).
        risk: Its risk template.
        symbols: Traded symbols, in column order.
        timeframe: Bar timeframe (``"1h"``).
        window: First and last bar time (ms) of the data it was proven on (None: open).
        provenance: Seed, config id and code version of the run that proved it.
    """

    strategy: StrategyDefinition
    trading: BacktestConfig
    risk: RiskLimits
    symbols: tuple[str, ...]
    timeframe: str
    window: Window = (None, None)
    provenance: Provenance = ()

    def to_dict(self) -> dict[str, Any]:
        """The canonical content (JSON types only)."""
        return {**_market_dict((self.trading, self.risk, self.symbols, self.timeframe,
                                self.window, self.provenance)),
                "strategy": self.strategy.to_dict(), "strategy_hash": self.strategy.hash}

    def canonical_json(self) -> str:
        """The canonical bytes, as text: sorted keys, no spaces."""
        return canonical_json(self.to_dict())

    @property
    def hash(self) -> str:
        """16 hex characters of the sha256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    @classmethod
    def from_json(cls, text: str) -> PolicySpec:
        """Rebuild a spec from :meth:`canonical_json` (or any JSON of the same content).

        Raises:
            ConfigError: The JSON is not a policy of this version, or a part is invalid.
        """
        def build(body: dict[str, Any], market: Market) -> PolicySpec:
            strategy = StrategyDefinition.from_dict(body["strategy"])
            recorded = body.get("strategy_hash")
            if recorded is not None and recorded != strategy.hash:
                raise ConfigError(f"policy spec's strategy hash {recorded} does not match its "
                                  f"definition ({strategy.hash}): the spec was altered")
            return cls(strategy, *market)

        return _load(text, "policy spec", build)


def policy_spec(strategy: StrategyDefinition, trading: BacktestConfig, risk: RiskLimits,
                symbols: Sequence[str], timeframe: str, window: Window = (None, None),
                provenance: Provenance = ()) -> PolicySpec:
    """A :class:`PolicySpec`, checked.

    An alpha's name is only the label it ran under (``live``, a candidate's name): the spec
    names every alpha ``alpha``, so the same expression and mapping are the same policy
    whether it runs as a candidate or in the active slot.

    Raises:
        ConfigError: No symbol, a repeated one, or a window that ends before it starts.
    """
    if not symbols or len(set(symbols)) != len(symbols):
        raise ConfigError(f"a policy needs distinct symbols, got {list(symbols)}")
    start, end = window
    if start is not None and end is not None and end < start:
        raise ConfigError(f"policy window ends ({end}) before it starts ({start})")
    if strategy.kind == "alpha" and strategy.name != ALPHA_NAME:
        strategy = dataclasses.replace(strategy, name=ALPHA_NAME)
    return PolicySpec(strategy, trading, risk, tuple(symbols), timeframe, (start, end),
                      tuple(sorted(provenance)))


@dataclass(frozen=True, slots=True)
class PolicyTemplate:
    """Everything of a policy but its alpha: what a discovery run scored every genome with.

    A run records its template once; a trial's policy is the template completed with the
    trial's expression (:meth:`complete`), so a validated alpha can be paper-traded and
    promoted exactly as it was scored.

    Attributes:
        mapping: The signal -> position mapping the run's objective used.
        trading: Costs, sizing and stops of the scoring backtests.
        risk: The risk template the policy would trade under.
        symbols: The run's universe.
        timeframe: Bar timeframe.
        window: First and last bar time (ms) of the searched data (None: open).
        provenance: Seed, config id and code version of the run.
    """

    mapping: MappingConfig
    trading: BacktestConfig
    risk: RiskLimits
    symbols: tuple[str, ...]
    timeframe: str
    window: Window = (None, None)
    provenance: Provenance = ()

    def complete(self, expression: str) -> PolicySpec:
        """The policy of ``expression`` scored under this template.

        Raises:
            DSLError: The expression does not parse.
            ConfigError: The template is malformed (see :func:`policy_spec`).
        """
        return policy_spec(alpha_definition(expression, self.mapping), self.trading,
                           self.risk, self.symbols, self.timeframe, self.window,
                           self.provenance)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, every default written out)."""
        return canonical_json({**_market_dict((self.trading, self.risk, self.symbols,
                                               self.timeframe, self.window,
                                               self.provenance)),
                               "mapping": self.mapping.model_dump(mode="json")})

    @classmethod
    def from_json(cls, text: str) -> PolicyTemplate:
        """A template from :meth:`to_json`.

        Raises:
            ConfigError: Not a template of this version, or a part is invalid.
        """
        return _load(text, "policy template", lambda body, market: cls(
            MappingConfig.model_validate(body["mapping"]), *market))
