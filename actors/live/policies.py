"""The policies a session runs, named by the one policy hash, recorded in ``policies.json``.

For each label (``live`` and every candidate) the record holds:

* ``policy``: the policy's hash — the ledger's when the label runs a ledger policy, else the
  hash of what runs (a config strategy has no proof window);
* ``runtime``: the canonical JSON of what really runs, built from the session's runtime
  objects (:func:`~core.governance.runtime.runtime_spec`);
* ``ledger``: True when the policy came from the ledger;
* ``first_step`` / ``last_step``: for a candidate added or removed while the session ran (its
  roster, :mod:`actors.live.roster_file`), the steps it paper-traded.

Planning refuses a session whose runtime differs from the ledger policy it was given
(:func:`session_policies` raises): a promoted policy runs exactly as promoted or not at all.
``scripts/promote.py`` reads these records to find a candidate's paper trading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actors.live.names import TreeInputs
from actors.live.roster_file import load_roster
from core.errors import ConfigError, UsageError
from core.governance.policy import PolicySpec
from core.governance.runtime import choice_of, runtime_form, session_runtime

POLICIES_FILE = "policies.json"


def session_policies(inputs: TreeInputs) -> dict[str, dict[str, Any]]:
    """The record of every label (see the module doc).

    Raises:
        UsageError: A ledger policy does not run as it was recorded.
    """
    config = inputs.config
    ledger: dict[str, PolicySpec] = {}
    if config.governance.active_policy:
        ledger["live"] = PolicySpec.from_json(config.governance.active_policy)
    for text in config.governance.candidate_policies:
        spec = PolicySpec.from_json(text)
        ledger[f"p-{spec.hash}"] = spec
    out: dict[str, dict[str, Any]] = {}
    for label, choice in (("live", inputs.live), *inputs.candidates):
        runtime = session_runtime(choice, config)
        given = ledger.get(label)
        if given is not None and runtime_form(given) != runtime:
            raise UsageError(f"{label}: the ledger's policy {given.hash} would not run as "
                             f"recorded (it would run as {runtime.hash}); this configuration "
                             "changes its strategy, trading rules, risk or market")
        out[label] = {"policy": given.hash if given is not None else runtime.hash,
                      "runtime": runtime.canonical_json(), "ledger": given is not None}
    roster = load_roster(inputs.state_dir, inputs.candidate_names)
    for member in roster.members().values():
        if member.spec:  # added while the session ran (checked to run as recorded then)
            spec = PolicySpec.from_json(member.spec)
            runtime = session_runtime(choice_of(spec, member.name), config)
            out[member.name] = {"policy": spec.hash, "runtime": runtime.canonical_json(),
                                "ledger": True, "first_step": member.first}
        if member.last is not None:
            out[member.name]["last_step"] = member.last
    return out


def write_policies_record(folder: Path, inputs: TreeInputs) -> Path:
    """Write ``policies.json`` in the session folder (the same bytes on every resume)."""
    path = Path(folder) / POLICIES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(session_policies(inputs), indent=1, sort_keys=True) + "\n"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return path


def read_policies_record(folder: Path) -> dict[str, dict[str, Any]]:
    """A session's record ({} when it has none: a session of an older version).

    Raises:
        ConfigError: The record is unreadable.
    """
    path = Path(folder) / POLICIES_FILE
    if not path.is_file():
        return {}
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable policies record: {exc}") from exc
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: not a policies record")
    return body
