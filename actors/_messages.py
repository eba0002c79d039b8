"""What each `ResidentObject` method accepts, as pydantic models, and how a body is unwrapped.

The models document the request shapes once: `app.clientgen` turns them (with the response
models of `app.schemas`) into the JSON Schema, TypeScript, Java and Go interfaces under
`clients/`, and a test fails when those files drift from these models. The actor itself still
checks each field where it uses it, with messages that name the field (`actors._object`).

Dapr SDKs differ in how they put one argument on the wire: Python, Java, Go and .NET send the
JSON object itself, the JavaScript SDK's `ActorProxyBuilder` sends the argument list (`[{...}]`).
Both are accepted; anything else is an `invalid_request` that says what was expected.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._errors import BadRequestError


def method_body(body: object, *, method: str) -> dict[str, Any]:
    """The request object of one method call: `body` itself, or the one object in `[body]`."""
    if isinstance(body, dict):
        return body
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        return body[0]
    raise BadRequestError(
        f"the {method} request must be a JSON object, or a JSON array holding exactly that one "
        f"object (as the JavaScript SDK's ActorProxyBuilder sends it); got {_kind(body)}"
    )


def _kind(value: object) -> str:
    if value is None:
        return "no body (null)"
    if isinstance(value, list):
        inner = ", ".join(sorted({_json_type(v) for v in value})) or "nothing"
        return f"a JSON array of {len(value)} element(s) holding {inner}"
    return f"a JSON {_json_type(value)}"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


class _Request(BaseModel):
    # Unknown fields are ignored by the object (a newer client may send more), as here.
    model_config = ConfigDict(frozen=True, extra="allow")


class Authenticated(_Request):
    token: str = Field(description="A JWT from an issuer the host trusts: the caller.")


class InstallPolicyRequest(Authenticated):
    """`InstallPolicy`: install or amend the object's signed policy (creates the object)."""

    policy: str = Field(description="The compact JWS of a signed policy.")


class CommandRequest(Authenticated):
    """`Command`: run one of the policy's commands."""

    name: str = Field(description="The command's name in the policy.")
    params: dict[str, Any] = Field(default_factory=dict, description="The command's params.")
    request_id: str | None = Field(
        default=None,
        max_length=128,
        description="Applied once: a retry with the same id returns the first outcome.",
    )


class SnapshotRequest(Authenticated):
    """`Snapshot`: the object's summary (permission `read`)."""


class LineageRequest(Authenticated):
    """`Lineage`: a page of the object's hash-chained history (permission `read`)."""

    after: int = Field(default=0, ge=0, description="Entries after this sequence number.")
    limit: int = Field(default=100, ge=1, description="At most this many (capped at 1000).")


class EvaluateRequest(Authenticated):
    """`Evaluate`: run one evaluation cycle now (permission `evaluate`)."""


class ExportRequest(Authenticated):
    """`Export`: the object as a signed bundle (permission `export`)."""

    move: bool = Field(default=False, description="Retire the object here once exported.")
    destination: str | None = Field(
        default=None, max_length=2048, description="Where the object moves (a URL), if moving."
    )


class ImportRequest(Authenticated):
    """`Import`: create or continue an object from a bundle another host exported."""

    bundle: dict[str, Any] = Field(description="The bundle `Export` returned.")


class DescribeRequest(Authenticated):
    """`Describe`: the object's policy, host limits, commands and what the caller may do."""


class VerifyLineageRequest(Authenticated):
    """`VerifyLineage`: check the chain, each entry's host signature, and replay the history."""


class DryRunRequest(Authenticated):
    """`DryRun`: what a candidate policy would do to the object now; nothing is written."""

    policy: str = Field(
        description="The candidate: a signed policy (JWS) or a policy document as YAML/JSON "
        "text (the object also takes the document as a JSON object)."
    )
    command: dict[str, Any] | None = Field(
        default=None, description="`{name, params}`: run this command instead of a cycle."
    )


class ErrorDetail(BaseModel):
    """Why the object refused; `code` is stable (see README, "Errors")."""

    model_config = ConfigDict(frozen=True, extra="allow")

    code: str
    message: str


class ErrorEnvelope(BaseModel):
    """What every method returns instead of its result when the object refuses the call."""

    model_config = ConfigDict(frozen=True)

    error: ErrorDetail
