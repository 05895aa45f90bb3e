"""What the gates measure, read from the store, the data and the sessions' files.

* Research (the policy's discovery trial in the registry): its out-of-sample Sharpe as the
  search scored it; its deflated Sharpe and Benjamini-Hochberg q-value recomputed over *every*
  trial of its layer (the registry's true trial count); the PBO of its run (CSCV over the
  per-bar returns of the run's best ``pbo_family`` trials, recomputed on the run's window);
  the regime grid (the Sharpe of its out-of-sample bars in each regime of the regime state
  machine, labelled on the first symbol's closes).
* Paper (every session that paper-traded it as a candidate, from ``policies.json`` and the
  session store): market time, fills, risk denials of its own orders, correlation of its
  per-bar returns to the live book's on the same bars, and the annualised tracking error of
  its returns against the same policy on the session's SIM trading loop over the session's
  stored bars (:func:`~core.governance.expectation.session_expectation`).
* Risk: the fields of its risk template looser than the active policy's.

A figure that cannot be measured is returned without a value and with the reason; the gate
then fails (:func:`core.governance.gates.check_gates`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actors.adapters.session_store import SessionStore
from actors.adapters.sqlite_registry import TrialRecord, TrialRegistry
from actors.live.plan import read_resume_record
from actors.live.policies import POLICIES_FILE, read_policies_record
from actors.runs.market_data import load_series
from actors.runs.window import WindowRequest
from configs.app import AppConfig
from configs.risk import RiskLimits
from core.backtest import MarketArrays
from core.data.candles import Candles
from core.data.timeframes import periods_per_year, timeframe_to_ms
from core.errors import EvotraderError
from core.evolution.gates import apply_gates
from core.governance.expectation import expectation, session_expectation
from core.governance.gates import Evidence, Measurement, looser_risk_fields
from core.governance.policy import PolicySpec
from core.governance.regime import RegimeRules, label_regimes, regime_grid
from core.validation import pbo_cscv


@dataclass(frozen=True)
class Subject:
    """The policy a check is about, and its discovery trial when it came from the registry."""

    spec: PolicySpec
    trial: TrialRecord | None = None


def load_market(config: AppConfig, spec: PolicySpec, start_ms: int | None,
                end_ms: int | None) -> tuple[Candles, ...]:
    """The stored bars of ``spec``'s market with open times in ``[start_ms, end_ms)``.

    Raises:
        UsageError: No data for a symbol.
    """
    data = config.data.model_copy(update={"timeframe": spec.timeframe,
                                          "symbols": list(spec.symbols)})
    loaded = load_series(config.model_copy(update={"data": data}), spec.symbols,
                         WindowRequest(None, end_ms, None, "policy window"))
    return tuple(c.between(start_ms, end_ms) for c in loaded.candles)


def research(config: AppConfig, registry: TrialRegistry, subject: Subject
             ) -> dict[str, Measurement]:
    """The research gates' figures (see the module doc)."""
    trial = subject.trial
    if trial is None:
        missing = Measurement(None, note="not a discovery trial: no search measured it")
        return {name: missing for name in ("oos_sharpe", "dsr", "fdr_q", "pbo", "regime_grid")}
    gates = config.governance.gates
    evidence = (Evidence("trial", f"{trial.layer}/{trial.hash}", _sha(trial.metrics)),
                Evidence("run", trial.run_id))
    out = {"oos_sharpe": Measurement(_finite(trial.metrics.get("oos_sharpe")), evidence,
                                     f"mean of {len(trial.folds)} walk-forward folds")}
    everyone = registry.trials(trial.layer)
    (verdict,) = apply_gates({trial.genome_id: trial.metrics},
                             [t.metrics if t.ok else None for t in everyone],
                             fdr_alpha=gates.max_fdr_q, dsr_gate=gates.min_dsr)
    note = f"over all {len(everyone)} trials of layer {trial.layer}"
    out["dsr"] = Measurement(_finite(verdict.dsr), evidence, note)
    out["fdr_q"] = Measurement(_finite(verdict.q_value), evidence, note)
    family = sorted((t for t in everyone if t.run_id == trial.run_id and t.ok
                     and math.isfinite(t.objective)),
                    key=lambda t: (-t.objective, t.seq))[: config.governance.pbo_family]
    if trial.hash not in {t.hash for t in family}:
        family = [*family[:-1], trial]
    start, end = subject.spec.window
    candles = load_market(config, subject.spec, start, None if end is None else end + 1)
    returns = expectation(subject.spec, candles).returns
    oos = _oos_mask(trial, len(returns))
    out["pbo"] = _pbo(config, registry, trial, family, candles, oos)
    close = np.asarray(candles[0].close, dtype=np.float64)
    ts = np.asarray(candles[0].timestamp, dtype=np.int64)
    labels = label_regimes(ts, close, RegimeRules()).labels
    grid = regime_grid(np.nan_to_num(returns[oos]), labels[oos])
    scores = ", ".join(f"{name} {score.score:.3f}" for name, score in grid.scores.items())
    out["regime_grid"] = Measurement(float(grid.positive), evidence,
                                     f"positive out-of-sample Sharpe by regime: {scores}")
    return out


def _pbo(config: AppConfig, registry: TrialRegistry, trial: TrialRecord,
         family: list[TrialRecord], candles: tuple[Candles, ...], oos: np.ndarray
         ) -> Measurement:
    if len(family) < 2:
        return Measurement(None, note=f"run {trial.run_id} has one valid trial: no family")
    columns = [np.nan_to_num(expectation(registry.policy(t.hash, t.layer), candles).returns)
               for t in family]
    matrix = np.column_stack(columns)[oos]
    blocks = config.governance.pbo_blocks
    blocks = min(blocks, max(2, (len(matrix) // 4) // 2 * 2))
    result = pbo_cscv(matrix, n_blocks=blocks)
    ref = ",".join(t.hash for t in family)
    return Measurement(float(result.pbo),
                       (Evidence("family", ref, hashlib.sha256(matrix.tobytes()).hexdigest()),),
                       f"CSCV, {len(family)} trials of run {trial.run_id}, {blocks} blocks")


def _oos_mask(trial: TrialRecord, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for fold in trial.folds:
        mask[int(fold["start"]):int(fold["stop"])] = True
    return mask if mask.any() else np.ones(n, dtype=bool)


def paper(config: AppConfig, spec: PolicySpec, sessions_dir: Path) -> dict[str, Measurement]:
    """The paper gates' figures over every session that paper-traded ``spec``."""
    days = 0.0
    fills = denials = 0
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    tracking: list[np.ndarray] = []
    evidence: list[Evidence] = []
    tf = timeframe_to_ms(spec.timeframe)
    for folder in sorted(p.parent for p in Path(sessions_dir).glob(f"*/{POLICIES_FILE}")):
        try:
            record = read_policies_record(folder)
        except EvotraderError:
            continue
        labels = [label for label, r in record.items()
                  if label != "live" and r.get("policy") == spec.hash]
        if not labels or not (folder / "session.sqlite").is_file():
            continue
        book = f"candidate:{labels[0]}"
        with SessionStore(folder / "session.sqlite") as store, store.snapshot():
            ts, equity = store.equity(book)
            live_ts, live_equity = store.equity("live")
            fills += len(store.fills(book))
            denials += sum(not d.approved for d in store.risk_decisions(book))
        if len(ts) < 2:
            continue
        evidence.append(Evidence("session", folder.name,
                                 hashlib.sha256((folder / POLICIES_FILE).read_bytes())
                                 .hexdigest()))
        days += (int(ts[-1]) - int(ts[0]) + tf) / 86_400_000
        mine = _returns(equity)
        common, ia, ib = np.intersect1d(ts, live_ts, return_indices=True)
        if len(common) > 2:
            pairs.append((mine[ia], _returns(live_equity)[ib]))
        expected = _session_expectation(folder, spec, ts)
        if expected is not None:
            tracking.append(mine - expected)
    proof = tuple(evidence)
    none = "no session paper-traded it as a candidate"
    out = {"paper_days": Measurement(days if proof else None, proof, "" if proof else none),
           "paper_trades": Measurement(float(fills) if proof else None, proof,
                                       "" if proof else none),
           "own_denials": Measurement(float(denials) if proof else None, proof,
                                      "" if proof else none)}
    if pairs:
        a = np.concatenate([p[0] for p in pairs])
        b = np.concatenate([p[1] for p in pairs])
        corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
        out["correlation_to_active"] = Measurement(corr, proof, f"{len(a)} common bars")
    else:
        out["correlation_to_active"] = Measurement(None, proof, none)
    if tracking:
        diff = np.concatenate(tracking)
        te = float(diff.std(ddof=1) * math.sqrt(periods_per_year(tf))) if len(diff) > 1 else 0.0
        out["tracking_error"] = Measurement(te, proof, f"{len(diff)} bars, annualised")
    else:
        out["tracking_error"] = Measurement(None, proof, none if not proof else
                                            "no stored bars of the sessions' window")
    return out


def _session_expectation(folder: Path, spec: PolicySpec, ts: np.ndarray) -> np.ndarray | None:
    """The policy's SIM returns on the session's bars ``ts`` (None: no such stored bars)."""
    try:
        loaded, _ = read_resume_record(folder)
        candles = load_market(loaded.config, spec, int(ts[0]), int(ts[-1]) + 1)
    except EvotraderError:
        return None
    market = MarketArrays.from_candles(list(candles))
    if not np.array_equal(market.timestamp, ts):
        return None
    session = loaded.config.session
    steps = 1 if session.speed is not None else session.batch_bars
    return _returns(session_expectation(spec, market, loaded.config.guardian, steps).equity)


def _returns(equity: np.ndarray) -> np.ndarray:
    out = np.zeros(len(equity))
    if len(equity) > 1:
        previous = equity[:-1]
        out[1:] = np.where(previous > 0, equity[1:] / np.where(previous > 0, previous, 1) - 1,
                           0.0)
    return out


def risk(spec: PolicySpec, active: RiskLimits) -> Measurement:
    """The risk template gate: how many fields are looser than the active template's."""
    loose = looser_risk_fields(spec.risk, active)
    return Measurement(float(len(loose)), (), "looser: " + ", ".join(loose) if loose
                       else "unchanged or tighter")


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sha(body: object) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
