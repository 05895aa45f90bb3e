"""The main job until the actor system lands: a backtest of the configured strategy.

``python -m actors.main`` runs the configured strategy (default: momentum 20/50 on BTC/USDT
1h) over the trailing year of the stored data — the real Binance candles in
``../shared/data`` by default — or, when no data is stored at all, over the seeded
synthetic market, labelled as such in every artifact. It writes a run folder like
``scripts/backtest.py`` and prints the summary.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from actors.runs.artifacts import write_run
from actors.runs.backtest_job import BacktestJob, execute, prepare
from actors.runs.console import print_summary
from actors.runs.window import parse_window
from configs.loader import LoadedConfig

DEMO_WINDOW = "P365D"


def run_demo(loaded: LoadedConfig) -> int:
    """Backtest the configured strategy on the trailing year and write a run folder."""
    config = loaded.config
    job = BacktestJob(
        config=config,
        strategy=config.strategy.name,
        params=dict(config.strategy.params),
        symbols=tuple(config.data.symbols),
        window=parse_window(None, None, DEMO_WINDOW, "UTC"),
        allow_synthetic=config.data.synthetic_fallback,
    )
    prepared = prepare(job)
    outcome = execute(prepared)
    folder = write_run(outcome, Path(config.app.run_dir), created=dt.datetime.now(dt.UTC),
                       sources=loaded.sources)
    data = "SYNTHETIC market (no stored data found)" if prepared.market.synthetic else \
        ", ".join(f for c in prepared.candles for f, _ in c.meta.files)
    print(f"evotrader demo backtest — mode {config.app.mode}, config id {loaded.config_id}")
    print(f"strategy {job.strategy} {prepared.params} on {', '.join(job.symbols)} "
          f"{config.data.timeframe}, trailing {DEMO_WINDOW}")
    print(f"data: {data}")
    for note in prepared.notes:
        print(f"note: {note}")
    print_summary(folder, outcome.metrics, outcome.benchmark_metrics)
    return 0
