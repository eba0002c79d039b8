"""Service invocation (`/v1.0/invoke/{app-id}/method/{method}`), any HTTP verb.

Targets, as daprd resolves them: this sidecar's own app id (through the app channel, with the
app token), the name of an `HTTPEndpoint` resource (its `spec.baseUrl` and headers), or a
URL-encoded `http(s)://` base URL given as the app id. The method path, query, headers (minus
hop-by-hop ones and the caller's `dapr-api-token`), body and status pass through both ways. Other
app ids cannot be resolved locally: 500 ERR_DIRECT_INVOKE, like daprd failing name resolution.
A call to its own app carries no `dapr-caller-app-id`, as daprd's local path does not add it.

One deliberate difference: daprd strips the caller's `dapr-api-token` only when it has a token
of its own (its auth middleware removes it); localdapr never forwards it, so a client's sidecar
token cannot reach an app through a token-less sidecar either.

The route parses the raw path itself: an app id such as `http%3A%2F%2F127.0.0.1%3A8080` must
be decoded only after the path is split at `/method/`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

import aiohttp
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._appchannel import AppChannel, AppResponse, AppUnreachableError
from ._components import HTTPEndpoint, load_resources
from ._config import SidecarConfig
from ._errors import DaprError
from ._httputil import forwardable
from ._subsystem import SidecarContext

log = logging.getLogger("localdapr.invoke")

CODE = "ERR_DIRECT_INVOKE"
PREFIX = "/v1.0/invoke/"
_DROP_REQUEST = frozenset({"dapr-api-token", "dapr-app-id"})
_DROP_RESPONSE = frozenset({"date", "server"})
_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]


class InvokeSubsystem:
    """Forwards invocations to the own app or to HTTPEndpoint peers."""

    name = "invoke"

    def __init__(self, config: SidecarConfig) -> None:
        self._config = config
        self._endpoints: dict[str, HTTPEndpoint] = {}
        self._app: AppChannel | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, ctx: SidecarContext) -> None:
        res = load_resources(self._config.resources_path, app_id=self._config.app_id)
        self._endpoints = {e.name: e for e in res.http_endpoints}
        self._app = ctx.app

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def metadata(self) -> dict[str, Any]:
        return {"httpEndpoints": [{"name": name} for name in self._endpoints]}

    def routes(self) -> list[BaseRoute]:
        return [Route(PREFIX + "{rest:path}", self.invoke, methods=_ALL_METHODS)]

    async def invoke(self, request: Request) -> Response:
        target, method = _split(request)
        path = "/" + method + (f"?{request.url.query}" if request.url.query else "")
        body = await request.body()
        headers = dict(forwardable(request.headers.items(), drop=_DROP_REQUEST))
        try:
            if target == self._config.app_id:
                resp = await self._channel().call(request.method, path, body=body, headers=headers)
            else:
                base, extra = self._resolve(target)
                resp = await self._call(request.method, base + path, body, {**headers, **extra})
        except AppUnreachableError as exc:
            raise DaprError(500, CODE, f"failed to invoke, id: {target}, err: {exc}") from exc
        out = Response(resp.body, status_code=resp.status)
        for key, value in forwardable(resp.headers.items(), drop=_DROP_RESPONSE):
            out.headers.append(key, value)
        return out

    def _resolve(self, target: str) -> tuple[str, dict[str, str]]:
        """Base URL and extra headers of a non-app target, or daprd's resolution failure."""
        endpoint = self._endpoints.get(target)
        if endpoint is not None:
            return endpoint.base_url, endpoint.headers
        if target.startswith(("http://", "https://")):
            return target.rstrip("/"), {}
        msg = f"failed to invoke, id: {target}, err: couldn't find service: {target}"
        raise DaprError(500, CODE, msg)

    async def _call(self, verb: str, url: str, body: bytes, headers: dict[str, str]) -> AppResponse:
        """One request to a peer; unreachable peers raise AppUnreachableError like the app."""
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=False)
        try:
            async with self._session.request(
                verb,
                url,
                data=body or None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=60),
                allow_redirects=False,
            ) as resp:
                payload = await resp.read()
                return AppResponse(resp.status, payload, dict(resp.headers))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AppUnreachableError(f"{verb} {url}: {exc!r}") from exc

    def _channel(self) -> AppChannel:
        if self._app is None:
            raise DaprError(500, CODE, "invoke API is not ready")
        return self._app


def _split(request: Request) -> tuple[str, str]:
    """(decoded target app id, still-encoded method path) from the raw request path."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    target, sep, method = rest.partition("/method/")
    target = unquote(target)
    if not target or not sep:
        raise DaprError(
            404, CODE, "failed getting app id either from the URL path or the header dapr-app-id"
        )
    return target, method
