"""Config identity: a content hash of the validated configuration, stamped on every artifact."""

from __future__ import annotations

import hashlib
import json

from configs.app import AppConfig


def canonical_json(config: AppConfig) -> str:
    """The canonical JSON text of a config: JSON-mode dump, sorted keys, no whitespace.

    Two configs with the same validated content give the same text, whatever the formatting,
    key order or number spelling (``5`` vs ``5.0``) of the files they came from. Secrets are
    not part of ``AppConfig`` and so never part of this text.
    """
    return json.dumps(
        config.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def config_id(config: AppConfig) -> str:
    """First 16 hex digits of the SHA-256 of :func:`canonical_json` (the config id)."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()[:16]
