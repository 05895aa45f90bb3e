"""Orders about to leave for a real venue, made durable before they leave.

A create that was sent but whose answer the process never saw (it was killed in between) may
exist on the venue. The executor appends ``(request, sent_ms)`` here, fsynced, before the
create leaves (:class:`~actors.adapters.ccxt_execution.CcxtExecutionClient`'s
``before_send``); a restarted executor looks every intent its snapshot does not know up by
client order id before anything is sent. Once a snapshot that knows them is written, the log
is emptied. A torn last line (a kill while appending) is ignored: that create never left.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from actors.adapters.files import append_line_durably
from actors.live.codec import CheckpointError, RecordCodec
from core.trading.messages import OrderRequest

INTENTS_FILE = "executor.intents"


class IntentLog:
    """Append-only, fsynced intents of one executor.

    Args:
        state_dir: The session's state folder.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / INTENTS_FILE
        self._codec = RecordCodec()

    def append(self, request: OrderRequest, sent_ms: int) -> None:
        """Record a create about to be sent (durable when this returns)."""
        payload = base64.b64encode(self._codec.encode(request)).decode()
        append_line_durably(self.path, json.dumps({"sent_ms": int(sent_ms),
                                                   "request": payload}))

    def entries(self) -> list[tuple[OrderRequest, int]]:
        """Every complete intent, oldest first."""
        if not self.path.exists():
            return []
        found: list[tuple[OrderRequest, int]] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                body = json.loads(line)
                request = self._codec.decode(base64.b64decode(body["request"]))
            except (ValueError, KeyError, TypeError, CheckpointError):
                continue  # a torn line: that create never left
            if isinstance(request, OrderRequest):
                found.append((request, int(body["sent_ms"])))
        return found

    def clear(self) -> None:
        """Forget every intent (a snapshot knows them now)."""
        if self.path.exists():
            self.path.unlink()
