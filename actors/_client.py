"""Calling objects through the Dapr sidecar, for the HTTP service and other Python apps.

Calls go to the sidecar's actor API (never in-process), so each call takes the object's turn
lock exactly as a call from any other Dapr app would.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from uuid import uuid4

from ._errors import ResidentError
from ._interface import ACTOR_TYPE
from ._sidecar import SidecarClient, SidecarError


class ResidentObjectClient:
    """One method per actor method; raises ResidentError when the object refuses."""

    def __init__(self, sidecar: SidecarClient, *, actor_type: str = ACTOR_TYPE) -> None:
        self._sidecar = sidecar
        self._type = actor_type

    async def call(self, object_id: str, method: str, request: dict[str, Any]) -> dict[str, Any]:
        path = f"/actors/{self._type}/{quote(object_id, safe='')}/method/{method}"
        try:
            _, body = await self._sidecar.request("POST", path, body=json.dumps(request).encode())
        except SidecarError as exc:
            if exc.too_large:  # the sidecar's --max-body-size: the caller's to fix
                raise ResidentError(
                    "body_too_large",
                    f"the call to {object_id!r} is larger than the Dapr sidecar accepts "
                    "(daprd --max-body-size, annotation dapr.io/http-max-request-size)",
                ) from exc
            raise ResidentError(
                "unavailable", f"object {object_id!r} could not be reached: {exc}"
            ) from exc
        result = json.loads(body) if body else {}
        if not isinstance(result, dict):
            raise ResidentError("unavailable", f"object {object_id!r} answered {result!r}")
        error = result.get("error")
        if isinstance(error, dict):
            details = {k: v for k, v in error.items() if k not in {"code", "message"}}
            raise ResidentError(str(error.get("code")), str(error.get("message")), details)
        return result

    async def install_policy(self, object_id: str, *, policy: str, token: str) -> dict[str, Any]:
        return await self.call(object_id, "InstallPolicy", {"policy": policy, "token": token})

    async def command(
        self,
        object_id: str,
        name: str,
        params: dict[str, Any],
        *,
        token: str,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Run a command once. The caller's idempotency key, else a fresh one, lets the object
        recognize the same call delivered twice (a client's retry; daprd retries actor calls
        across rebalances) and answer it with the first outcome (`replayed: true`)."""
        request = {
            "name": name,
            "params": params,
            "token": token,
            "idempotency_key": idempotency_key or uuid4().hex,
        }
        return await self.call(object_id, "Command", request)

    async def snapshot(self, object_id: str, *, token: str) -> dict[str, Any]:
        return await self.call(object_id, "Snapshot", {"token": token})

    async def lineage(
        self, object_id: str, *, token: str, after: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        request = {"token": token, "after": after, "limit": limit}
        return await self.call(object_id, "Lineage", request)

    async def describe(self, object_id: str, *, token: str) -> dict[str, Any]:
        return await self.call(object_id, "Describe", {"token": token})

    async def evaluate(
        self, object_id: str, *, token: str, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Run a cycle now; with a key, a repeat gets the first cycle's outcome."""
        request = {"token": token}
        if idempotency_key is not None:
            request["idempotency_key"] = idempotency_key
        return await self.call(object_id, "Evaluate", request)

    async def export(
        self,
        object_id: str,
        *,
        token: str,
        move: bool = False,
        destination: str | None = None,
    ) -> dict[str, Any]:
        request = {"token": token, "move": move, "destination": destination}
        return await self.call(object_id, "Export", request)

    async def import_bundle(
        self, object_id: str, bundle: dict[str, Any], *, token: str
    ) -> dict[str, Any]:
        return await self.call(object_id, "Import", {"bundle": bundle, "token": token})

    async def verify_lineage(self, object_id: str, *, token: str) -> dict[str, Any]:
        return await self.call(object_id, "VerifyLineage", {"token": token})

    async def dry_run(
        self,
        object_id: str,
        *,
        token: str,
        policy: Any,
        command: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        request = {"token": token, "policy": policy, "command": command}
        return await self.call(object_id, "DryRun", request)
