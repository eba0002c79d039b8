"""An in-memory Dapr sidecar for in-process actor tests (a fake, not a mock of our code).

It answers the HTTP calls `SidecarClient` makes, with Dapr's semantics for actor state (a
transaction is all or nothing), reminders and publishing, and can be told to fail a save.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from dapr.actor import ActorId
from dapr.actor.runtime._type_information import ActorTypeInformation
from dapr.actor.runtime.context import ActorRuntimeContext

from actors import HostConfig, PlainJSONSerializer, ResidentObject, SidecarClient, SidecarError


def object_on(
    sidecar: InMemorySidecar,
    host: HostConfig,
    object_id: str,
    *,
    state_serializer: PlainJSONSerializer | None = None,
) -> ResidentObject:
    """An activation of `object_id` over `sidecar`'s store, built as the SDK builds one
    (`state_serializer`: the app's `StateJSONSerializer`, for a measure of its turns)."""
    ctx = ActorRuntimeContext(
        ActorTypeInformation.create(ResidentObject),
        PlainJSONSerializer(),
        state_serializer or PlainJSONSerializer(),
        sidecar,
    )
    return ResidentObject(ctx, ActorId(object_id), host=host, sidecar=sidecar)


class InMemorySidecar(SidecarClient):
    def __init__(self) -> None:
        super().__init__(base_url="http://fake-sidecar/v1.0")
        self.state: dict[str, bytes] = {}
        self.reminders: dict[str, dict[str, Any]] = {}
        self.published: list[dict[str, Any]] = []
        self.invoked: list[dict[str, Any]] = []
        self.kv: dict[str, tuple[Any, int]] = {}
        self.fail_next_save: BaseException | None = None
        self.failure_delay = 0.0
        self.refuse_publishes = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        parts = path.strip("/").split("/")
        if parts[0] == "actors" and parts[3] == "state":
            return await self._actor_state(method, parts, body)
        if parts[0] == "actors" and parts[3] == "reminders":
            if method == "DELETE":
                self.reminders.pop(parts[4], None)
            else:
                self.reminders[parts[4]] = json.loads(body or b"{}")
            return 204, b""
        if parts[0] == "publish" and self.refuse_publishes > 0:
            self.refuse_publishes -= 1
            raise SidecarError("pub/sub broker unavailable", status=500)
        if parts[0] == "publish":
            self.published.append({"topic": parts[2], "event": json.loads(body or b"null")})
            return 204, b""
        if parts[0] in ("invoke", "bindings"):  # a service or binding that accepts everything
            self.invoked.append({"path": path, "body": json.loads(body or b"null")})
            return 200, b"{}"
        raise AssertionError(f"the fake sidecar does not serve {method} {path}")

    async def _actor_state(
        self, method: str, parts: list[str], body: bytes | None
    ) -> tuple[int, bytes]:
        prefix = f"{parts[1]}||{parts[2]}||"
        if method == "GET":
            value = self.state.get(prefix + parts[4])
            return (204, b"") if value is None else (200, value)
        if self.fail_next_save is not None:
            failure, self.fail_next_save = self.fail_next_save, None
            await asyncio.sleep(self.failure_delay)  # lets a concurrent turn run meanwhile
            raise failure
        for op in json.loads(body or b"[]"):
            key = prefix + op["request"]["key"]
            if op["operation"] == "upsert":
                self.state[key] = json.dumps(op["request"]["value"]).encode()
            else:
                self.state.pop(key, None)
        return 204, b""

    async def get_kv(self, store: str, key: str) -> tuple[bytes, str | None]:
        value, version = self.kv.get(key, (None, 0))
        return (b"", None) if value is None else (json.dumps(value).encode(), str(version))

    async def save_kv(self, store: str, key: str, value: Any, *, etag: str | None) -> None:
        self.kv[key] = (value, self.kv.get(key, (None, 0))[1] + 1)
