"""The outcome of one evaluation or command: what the actor applies and persists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Decision:
    """New data plus everything that happened on the way; all plain JSON values.

    `changes`: {"op": "set"|"unset", "path", "value"?} in the order applied.
    `effects`: admitted effects, each {"kind": "publish", "pubsub", "topic", "data"} |
    {"kind": "invoke_binding", "name", "operation", "data", "metadata"} |
    {"kind": "invoke_service", "app_id", "method", "data"}.
    `denied`: {"rule" or "command", "action"?, "reason"}; `errors`: {"rule" or "command",
    "expression", "error"}. `result` is a command's `returns` value. `fired` names the rules
    whose actions were admitted. `data` shares unchanged sub-objects with the input data:
    treat both as read-only.
    """

    data: dict[str, Any]
    changes: list[dict[str, Any]] = field(default_factory=list)
    effects: list[dict[str, Any]] = field(default_factory=list)
    denied: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: Any = None
    applied: bool = False
    fired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the data differs from the input (effects alone do not count)."""
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "data": self.data,
            "changes": self.changes,
            "effects": self.effects,
            "denied": self.denied,
            "errors": self.errors,
            "result": self.result,
            "applied": self.applied,
            "fired": self.fired,
        }
