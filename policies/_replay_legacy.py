"""Entries written before entries recorded their inputs: they cannot be re-run, only their
recorded changes re-applied and their data digests checked, and only as a prefix of a history
(policies._replay)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import PolicyError
from ._lineage import data_digest
from ._paths import PathConflict, set_path, split, unset_path
from ._replayer import Mismatch, Replayer
from ._workflow import WorkflowStatus


def _apply_changes(replayer: Replayer, entry: Mapping[str, Any]) -> None:
    """A legacy entry (no inputs): apply its recorded changes and check the digest."""
    data = replayer.data
    changes = entry.get("changes")
    if not isinstance(changes, list):
        raise Mismatch("its changes are not a list")
    try:
        for change in changes:
            path = split(str(change.get("path")))
            if change.get("op") == "set":
                data = set_path(data, path, change.get("value"))
            elif change.get("op") == "unset":
                data = unset_path(data, path) or data
            else:
                raise Mismatch(f"unknown change op {str(change.get('op'))[:40]!r}")
    except (PathConflict, PolicyError, AttributeError) as exc:
        raise Mismatch(f"its changes do not apply: {exc}") from exc
    digest = data_digest(data) if changes else replayer.digest
    if entry.get("data_digest") != digest:
        raise Mismatch("applying its recorded changes does not give its data digest")
    replayer.data, replayer.digest = data, digest


def replay_legacy(replayer: Replayer, entry: Mapping[str, Any]) -> None:
    if replayer.seen_inputs:
        raise Mismatch("it records no inputs, though earlier entries do: it cannot be re-run")
    kind = entry.get("kind")
    if kind == "created":
        replayer.policy = replayer.policy_for(entry)
        replayer.data = replayer.policy.initial_data
        replayer.digest = data_digest(replayer.data)
        if entry.get("data_digest") != replayer.digest:
            raise Mismatch("the created entry does not hold the policy's initial data")
        return
    if kind == "policy":
        replayer.policy = replayer.policy_for(entry)
    _apply_changes(replayer, entry)
    extra = entry.get("extra")
    if kind == "transition" and isinstance(extra, dict) and isinstance(extra.get("to"), str):
        replayer.status = WorkflowStatus(extra["to"], replayer.now(entry))
