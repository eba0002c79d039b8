"""One pooled HTTP client to the Dapr sidecar, for the actor runtime and for effects.

The SDK's default actor client opens a fresh aiohttp session (a new TCP connection) for every
state read and write; a cycle does several, so the turn would pay connection set-up each time.
This client implements the SDK's `DaprActorClientBase` over one keep-alive pool and adds the
few other Dapr HTTP APIs Resident uses (publish, bindings, invocation, key/value state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
from dapr.clients.base import DAPR_REENTRANCY_ID_HEADER, DaprActorClientBase
from dapr.clients.exceptions import DaprInternalError
from dapr.clients.http.helpers import get_api_url
from dapr.common.reentrancy_context import reentrancy_ctx
from dapr.conf import settings
from yarl import URL

from ._trace import outgoing

API_TOKEN_HEADER = "dapr-api-token"


def segment(name: str) -> str:
    """One URL path segment: every reserved character escaped, so a name can neither add
    segments (`/`), climb (`..` is escaped to `%2E%2E`), nor start a query (`?`, `#`)."""
    return quote(name, safe="").replace(".", "%2E") if set(name) <= {"."} else quote(name, safe="")


def method_path(method: str) -> str:
    """A service method or topic: its `/`-separated segments, each escaped (see `segment`)."""
    return "/".join(segment(part) for part in method.split("/"))


def _actor(actor_type: str, actor_id: str) -> str:
    return f"/actors/{segment(actor_type)}/{segment(actor_id)}"


class SidecarError(DaprInternalError):
    """The sidecar answered a call with an error status; `status` says which.

    A DaprInternalError subclass so the SDK's own failure path (cache clear) applies too.
    Retrying helps when the status is 5xx or the sidecar was unreachable (status 0).
    """

    def __init__(self, message: str, *, status: int, body: bytes = b"") -> None:
        super().__init__(message, error_code=f"HTTP_{status}", raw_response_bytes=body)
        self.status = status
        self.body = body

    @property
    def too_large(self) -> bool:
        """The sidecar refused the body's size: daprd says 400 "stream too large", others 413."""
        return self.status == 413 or (self.status == 400 and b"too large" in self.body)


class SidecarClient(DaprActorClientBase):
    """Calls `http://$DAPR_RUNTIME_HOST:$DAPR_HTTP_PORT/v1.0` with the API token, keep-alive."""

    def __init__(self, *, base_url: str | None = None, timeout: float = 60.0) -> None:
        self._base = base_url or get_api_url()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return self._base

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=30),
                timeout=self._timeout,
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one call; return (status, body) for 2xx, raise SidecarError otherwise."""
        sent = {"content-type": "application/json", **outgoing(), **(headers or {})}
        if settings.DAPR_API_TOKEN:
            sent[API_TOKEN_HEADER] = settings.DAPR_API_TOKEN
        try:
            # encoded=True: the path is already escaped; aiohttp must not re-encode or
            # normalise it (it would collapse `..` segments).
            url = URL(self._base + path, encoded=True)
            async with self._client().request(
                method, url, data=body, headers=sent, params=params
            ) as resp:
                payload = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SidecarError(f"sidecar unreachable: {exc!r}", status=0) from exc
        if not 200 <= status < 300:
            text = payload[:500].decode(errors="replace")
            raise SidecarError(f"{method} {path} -> {status}: {text}", status=status, body=payload)
        return status, payload

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- DaprActorClientBase: what the actor runtime needs -------------------------------

    async def invoke_method(
        self, actor_type: str, actor_id: str, method: str, data: bytes | None = None
    ) -> bytes:
        reentrancy_id = reentrancy_ctx.get()
        headers = {DAPR_REENTRANCY_ID_HEADER: reentrancy_id} if reentrancy_id else {}
        path = f"/actors/{segment(actor_type)}/{segment(actor_id)}/method/{segment(method)}"
        return (await self.request("POST", path, body=data, headers=headers))[1]

    async def save_state_transactionally(self, actor_type: str, actor_id: str, data: bytes) -> None:
        await self.request("PUT", f"{_actor(actor_type, actor_id)}/state", body=data)

    async def get_state(self, actor_type: str, actor_id: str, name: str) -> bytes:
        return (await self.request("GET", f"{_actor(actor_type, actor_id)}/state/{segment(name)}"))[
            1
        ]

    async def register_reminder(
        self, actor_type: str, actor_id: str, name: str, data: bytes
    ) -> None:
        path = f"{_actor(actor_type, actor_id)}/reminders/{segment(name)}"
        await self.request("PUT", path, body=data)

    async def unregister_reminder(self, actor_type: str, actor_id: str, name: str) -> None:
        await self.request("DELETE", f"{_actor(actor_type, actor_id)}/reminders/{segment(name)}")

    async def register_timer(self, actor_type: str, actor_id: str, name: str, data: bytes) -> None:
        path = f"{_actor(actor_type, actor_id)}/timers/{segment(name)}"
        await self.request("PUT", path, body=data)

    async def unregister_timer(self, actor_type: str, actor_id: str, name: str) -> None:
        await self.request("DELETE", f"{_actor(actor_type, actor_id)}/timers/{segment(name)}")

    # --- The other building blocks effects and the object index use ----------------------

    async def publish(self, pubsub: str, topic: str, event: Mapping[str, Any]) -> None:
        """Publish a ready-made CloudEvent, so its id (the lineage entry's) reaches subscribers."""
        await self.request(
            "POST",
            f"/publish/{segment(pubsub)}/{method_path(topic)}",
            body=json.dumps(event).encode(),
            headers={"content-type": "application/cloudevents+json"},
        )

    async def invoke_binding(
        self, name: str, operation: str, data: Any, metadata: Mapping[str, str]
    ) -> bytes:
        body = json.dumps({"operation": operation, "data": data, "metadata": dict(metadata)})
        return (await self.request("POST", f"/bindings/{segment(name)}", body=body.encode()))[1]

    async def invoke_service(
        self, app_id: str, method: str, data: Any, headers: Mapping[str, str]
    ) -> bytes:
        path = f"/invoke/{segment(app_id)}/method/{method_path(method)}"
        return (await self.request("POST", path, body=json.dumps(data).encode(), headers=headers))[
            1
        ]

    async def get_kv(self, store: str, key: str) -> tuple[bytes, str | None]:
        """Read a key/value entry and its ETag; empty bytes when absent."""
        sent = {API_TOKEN_HEADER: settings.DAPR_API_TOKEN} if settings.DAPR_API_TOKEN else {}
        try:
            url = URL(f"{self._base}/state/{segment(store)}/{segment(key)}", encoded=True)
            async with self._client().get(url, headers=sent) as r:
                payload = await r.read()
                if r.status == 204:
                    return b"", None
                if r.status != 200:
                    raise SidecarError(f"GET state {store}/{key} -> {r.status}", status=r.status)
                return payload, r.headers.get("ETag")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SidecarError(f"sidecar unreachable: {exc!r}", status=0) from exc

    async def bulk_get_kv(self, store: str, keys: list[str]) -> list[dict[str, Any]]:
        body = json.dumps({"keys": keys, "parallelism": 8}).encode()
        payload = (await self.request("POST", f"/state/{segment(store)}/bulk", body=body))[1]
        items: list[dict[str, Any]] = json.loads(payload or b"[]")
        return items

    async def save_kv(self, store: str, key: str, value: Any, *, etag: str | None) -> None:
        """Save with first-write concurrency: fails (status 409) if someone else wrote first."""
        item: dict[str, Any] = {"key": key, "value": value}
        item["options"] = {"concurrency": "first-write"}
        if etag is not None:
            item["etag"] = etag
        await self.request("POST", f"/state/{segment(store)}", body=json.dumps([item]).encode())
