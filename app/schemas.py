"""Response models: they document the API in OpenAPI (/docs) and filter what is returned."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class PolicyRef(BaseModel):
    id: str
    version: int
    digest: str
    issuer: str | None


class LineageRef(BaseModel):
    length: int
    head: str | None


class ObjectSummary(BaseModel):
    id: str
    data: dict[str, Any]
    policy: PolicyRef
    status: str
    cycles: int
    lineage: LineageRef
    outbox: int = 0
    workflow: dict[str, Any] | None = None  # {state, entered_at, due_at, terminal, events, history}


class PolicyInstalled(BaseModel):
    created: bool
    object: ObjectSummary


class CommandResult(BaseModel):
    result: Any = None
    applied: bool
    denied: list[dict[str, Any]]
    errors: list[dict[str, Any]] = []
    seq: int


class CycleResult(BaseModel):
    cycle: int | None = None
    changes: list[dict[str, Any]] = []
    effects: list[dict[str, Any]] = []
    denied: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seq: int | None = None
    skipped: str | None = None


class LineagePage(BaseModel):
    entries: list[dict[str, Any]]
    length: int
    head: str | None


class ObjectList(BaseModel):
    objects: list[ObjectSummary]
    next: str | None


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str


class ObjectImported(BaseModel):
    created: bool
    object: ObjectSummary
    from_host: str
    host_trusted: bool


class Bundle(BaseModel):
    """`resident.bundle/1`: verify offline with `resident verify`."""

    format: str
    object_id: str
    policy: str
    data: dict[str, Any]
    lineage: list[dict[str, Any]]
    head: str
    from_host: str
    exported_at: str
    signature: str
    requests: list[dict[str, Any]] | None = None  # idempotency records, when there are any
