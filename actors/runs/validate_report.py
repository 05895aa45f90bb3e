"""The human-readable validation report and the report.json artifact."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from actors.runs.provenance import git_state, software_versions


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return fmt.format(value)


def render(report: dict[str, Any]) -> str:
    """Format the report for a terminal."""
    lines = [f"window: {report['window']['requested']} ({report['window']['bars']} bars, "
             f"{report['window']['warmup_bars']} warm-up bars before); mapping "
             f"{report['mapping']['kind']}, {report['direction']}; {report['scheme']} with "
             f"{report['folds']} folds, "
             f"embargo {report['embargo']} bars; trials counted: {report['n_trials']}"]
    for alpha in report["alphas"]:
        lines += ["", f"{alpha['label']}: {alpha['expression']}  [hash {alpha['hash']}]",
                  "  fold   IS bars  OOS bars  IS Sharpe  OOS Sharpe"]
        for fold in alpha["folds"]:
            lines.append(f"  {fold['fold']:>4} {fold['is_bars']:>9} {fold['oos_bars']:>9} "
                         f"{_num(fold['is_sharpe']):>10} {_num(fold['oos_sharpe']):>11}")
        low, high = alpha["sharpe_ci"]
        lines += [
            f"  Sharpe (ann.) {_num(alpha['sharpe'])}, 95% block-bootstrap CI "
            f"[{_num(low)}, {_num(high)}]; mean OOS Sharpe {_num(alpha['oos_sharpe_mean'])}",
            f"  total return {_num(alpha['total_return'], '{:.2%}')}, exposure "
            f"{_num(alpha['exposure'], '{:.1%}')}, skew {_num(alpha['skew'])}, kurtosis "
            f"{_num(alpha['kurtosis'])}",
            f"  PSR(SR>0) {_num(alpha['psr'], '{:.4f}')}, DSR {_num(alpha['dsr'], '{:.4f}')} "
            f"(trials {alpha['n_trials']}, var of trial SRs {alpha['var_trials_sr']:.3g})",
            f"  bias check: {alpha['bias']['summary']}",
        ]
        if "fdr_q" in alpha:
            lines.append(f"  FDR q-value {_num(alpha['fdr_q'], '{:.4f}')} "
                         f"({'rejected' if alpha['fdr_reject'] else 'not rejected'} at "
                         f"{report['fdr']['alpha']}), Holm "
                         f"{'rejects' if alpha['holm_reject'] else 'keeps'} H0")
        lines.append(f"  verdict: {'PASSES' if alpha['passes_gates'] else 'FAILS'} the gates")
    if "pbo" in report:
        pbo = report["pbo"]
        lines += ["", f"family of {report['family_size']}: PBO {_num(pbo['pbo'])} over "
                      f"{pbo['combinations']} CSCV combinations; P(OOS loss of the IS best) "
                      f"{_num(pbo['prob_oos_loss'])}; degradation slope "
                      f"{_num(pbo['degradation_slope'])}; BH rejections "
                      f"{report['fdr']['bh_rejections']}, Holm rejections "
                      f"{report['fdr']['holm_rejections']}"]
    return "\n".join(lines)


def write_report(report: dict[str, Any], root: Path, *, config_id: str, seed: int) -> Path:
    """Write ``report.json`` (with provenance) into a new folder under ``root``."""
    created = dt.datetime.now(dt.UTC)
    name = f"{created.strftime('%Y%m%dT%H%M%SZ')}_{report['alphas'][0]['hash']}"
    if report["family_size"] > 1:
        name += f"_family{report['family_size']}"
    folder = root / name
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = root / f"{name}-{suffix}"
    folder.mkdir(parents=True)
    document = {**report, "provenance": {
        "created_utc": created.isoformat(), "config_id": config_id, "git": git_state(),
        "seed": seed, "software": software_versions()}}
    text = json.dumps(_strict(document), indent=2, allow_nan=False)
    (folder / "report.json").write_text(text + "\n")
    return folder


def _strict(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN -> None, infinities -> "inf"."""
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
