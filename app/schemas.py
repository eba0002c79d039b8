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
    last_cycle_at: str | None = None
    lineage: LineageRef
    outbox: int = 0
    workflow: dict[str, Any] | None = None  # {state, entered_at, due_at, terminal, events, history}


class PolicyView(BaseModel):
    """`GET /objects/{id}/policy`: the object's authority as a reader may see it."""

    id: str
    policy: dict[str, Any]  # {id, version, digest, issuer, claims, document, yaml}
    versions: list[dict[str, Any]] = []  # [{digest, id, version}] every policy it ran under
    capabilities: dict[str, Any]
    host_limits: dict[str, Any]  # None in a list: no host restriction; []: nothing allowed
    effective: dict[str, Any]  # policy ∩ host
    commands: dict[str, dict[str, Any]]  # name -> {params: {name: type}, returns}
    events: list[str]  # workflow events, sent as commands (permission `event`)
    workflow: dict[str, Any] | None  # {initial, states: {name: {terminal, transitions}}}
    allowed: dict[str, bool]  # read, evaluate, export, amend, event: for this caller
    status: str
    created_at: str | None = None
    last_cycle_at: str | None = None


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
    """`resident.bundle/1`: verify offline with `resident verify --replay`. `policies`: every
    policy version the object ran under; `hosts`: the keys that signed its entries."""

    format: str
    object_id: str
    policy: str
    data: dict[str, Any]
    lineage: list[dict[str, Any]]
    head: str
    from_host: str
    exported_at: str
    signature: str
    policies: list[str] = []
    hosts: dict[str, dict[str, Any]] = {}


class CheckResult(BaseModel):
    ok: bool
    first_bad: int | None = None
    reason: str | None = None


class ChainCheck(CheckResult):
    length: int


class SignatureCheck(CheckResult):
    signed: int
    unsigned: int
    signers: dict[str, int]
    unknown_signers: list[str]


class ReplayCheck(CheckResult):
    replayable: bool
    entries: int
    replayed: int
    legacy: int


class LineageVerification(BaseModel):
    """`GET /objects/{id}/lineage/verify`: the chain, the host signatures and the replay."""

    ok: bool
    chain: ChainCheck
    signatures: SignatureCheck
    replay: ReplayCheck


class DryRunResult(BaseModel):
    """What a candidate policy would do to the object now; nothing of it is written."""

    ran: str
    changes: list[dict[str, Any]]
    effects: list[dict[str, Any]]
    denied: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    result: Any = None
    data: dict[str, Any]
    policy: dict[str, Any]
    successor: dict[str, Any]
    requests: list[dict[str, Any]] | None = None  # idempotency records, when there are any
