"""What a follower shows: a progress bar in SIM, a live status line when paced."""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import Any

from tqdm import tqdm

from actors.live.plan import SessionPlan


def sim_time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM`` UTC of an epoch-ms time."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def status_line(status: dict[str, Any]) -> str:
    """One line: simulated time, equity, positions, trading state, ack latency."""
    positions = ", ".join(f"{symbol} {quantity:+.6g}" for symbol, _tag, quantity
                          in status.get("positions", [])) or "flat"
    equity = status.get("equity", math.nan)
    ack = status.get("latency_ms", {}).get("ack", {})
    latency = (f"ack p50 {ack['p50']:.1f} ms p99 {ack['p99']:.1f} ms" if ack else "ack n/a")
    shown = "n/a" if not math.isfinite(equity) else f"{equity:,.2f}"
    return (f"{sim_time(int(status['sim_time_ms']))}  step {status['steps']:,}/"
            f"{status['total_steps']:,}  equity {shown}  {positions}  {status['state']}  "
            f"{latency}")


class ProgressView:
    """Renders a session's progress on stderr while a follower polls it.

    Args:
        plan: The session plan (paced or not, total bars).
    """

    def __init__(self, plan: SessionPlan) -> None:
        config = plan.inputs.config
        self._paced = config.session.speed is not None
        total = len(plan.timeline) * len(config.data.symbols)
        self._bar = None if self._paced else tqdm(
            total=total, unit="bar", unit_scale=True, file=sys.stderr, dynamic_ncols=True,
            desc=plan.inputs.session_id[-12:], mininterval=0.5)
        self._last = ""

    def update(self, status: dict[str, Any]) -> None:
        """Show the latest status."""
        if self._bar is not None:
            self._bar.update(int(status["bars"]) - self._bar.n)
            self._bar.set_postfix_str(f"sim {sim_time(int(status['sim_time_ms']))} "
                                      f"{status['state']}", refresh=False)
            return
        line = status_line(status)
        if line != self._last:
            end = "\r" if sys.stderr.isatty() else "\n"
            print(line.ljust(len(self._last)), end=end, file=sys.stderr, flush=True)
            self._last = line

    def close(self, result: dict[str, Any]) -> None:
        """The session finished."""
        if self._bar is not None:
            self._bar.update(int(result.get("bars", self._bar.n)) - self._bar.n)
            self._bar.close()
        elif self._last:
            print(file=sys.stderr)
