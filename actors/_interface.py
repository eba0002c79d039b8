"""The typed face of a Resident object, for any Python Dapr app (`ActorProxy`).

Every method takes one JSON object carrying the caller's `token` (or a one-element array holding
it, as the JavaScript SDK sends it) and returns one JSON object: the result, or
`{"error": {"code", "message"}}` when the object refuses. The request shapes are the models in
`actors._messages`; `app.clientgen` turns them into the typed clients under `clients/`.
"""

from __future__ import annotations

from typing import Any

from dapr.actor import ActorInterface, actormethod

ACTOR_TYPE = "ResidentObject"


class ResidentObjectInterface(ActorInterface):
    """Methods of the `ResidentObject` actor type, with their Dapr method names."""

    @actormethod(name="InstallPolicy")
    async def install_policy(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{policy: <JWS>, token}` -> `{created, object}`; creates the object on first install."""
        ...

    @actormethod(name="Command")
    async def command(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{name, params, token, idempotency_key?}` -> `{result, applied, denied, seq}`; a
        repeated key answers the first outcome plus `replayed: true` (actors._requests)."""
        ...

    @actormethod(name="Snapshot")
    async def snapshot(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token}` -> the object's summary (permission `read`)."""
        ...

    @actormethod(name="Lineage")
    async def lineage(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token, after, limit}` -> `{entries, length, head}` (permission `read`)."""
        ...

    @actormethod(name="Describe")
    async def describe(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token}` -> the policy document, host limits, commands and the caller's allowed
        operations (permission `read`)."""
        ...

    @actormethod(name="Evaluate")
    async def evaluate(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token, idempotency_key?}` -> runs one cycle now (permission `evaluate`)."""
        ...

    @actormethod(name="Deliver")
    async def deliver(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{pubsub, topic, event}` -> `{accepted, refused, workflow, seq}`: a pub/sub message
        the policy's `subscribe` admits as a workflow event (no token: the sidecar's)."""
        ...

    @actormethod(name="Export")
    async def export(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token, move?, destination?}` -> the signed bundle (permission `export`)."""
        ...

    @actormethod(name="Import")
    async def import_object(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{bundle, token}` -> `{created, object, from_host, host_trusted}` (bundle's `amend`)."""
        ...

    @actormethod(name="VerifyLineage")
    async def verify_lineage(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token}` -> `{ok, chain, signatures, replay}` (permission `read`)."""
        ...

    @actormethod(name="DryRun")
    async def dry_run(self, request: dict[str, Any]) -> dict[str, Any]:
        """`{token, policy, command?}` -> what the candidate policy would do now, written
        nowhere (the current policy's `amend` permission)."""
        ...
