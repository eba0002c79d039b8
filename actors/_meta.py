"""What an object keeps beside its data (`Meta`, the `meta` key: counters, lineage head,
status, the newest part of its idempotency records' index), and an object as one turn loads
it (`StoredObject`); actors._state says where each lies in Dapr actor state."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class Meta:
    """Bookkeeping beside the data; none of it is derivable from data alone."""

    seq: int = 0
    head: str | None = None
    cycles: int = 0
    skipped_fires: int = 0  # no longer written (a skipped fire writes nothing); kept for old data
    last_cycle_at: str | None = None
    reminder_period_s: float | None = None
    status: str = "active"
    moved_to: str | None = None
    created_at: str | None = None
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # {"state", "entered_at", "history": [...]} when the policy has a workflow (_workflow).
    workflow: dict[str, Any] | None = None
    # The timeout the `evaluate` reminder was last moved to fire at, if any.
    reminder_due_at: str | None = None
    # Ids of the last pub/sub messages delivered to the workflow (redeliveries are not news).
    delivered: list[str] = field(default_factory=list)
    # Idempotency records added since the request index was last rewritten (_request_index).
    requests_tail: str = ""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Meta:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        """The fields as a dict, sharing nested values: every turn stages meta, and
        `dataclasses.asdict`'s deep copy was about 80 µs of it. Safe because nested values
        (`workflow`, `delivered`, `extra`) are only ever replaced, never changed in place."""
        return {name: getattr(self, name) for name in _META_FIELDS}

    @property
    def previous_entry(self) -> dict[str, Any] | None:
        """What the lineage needs of the last entry to chain the next one."""
        return None if self.seq == 0 else {"seq": self.seq, "hash": self.head}


_META_FIELDS = tuple(f.name for f in fields(Meta))


@dataclass(slots=True)
class StoredObject:
    policy_jws: str
    data: dict[str, Any]
    meta: Meta
    outbox: list[dict[str, Any]]
