"""Output bindings API (`POST /v1.0/bindings/{name}`): `bindings.http` and `bindings.localstorage`.

Request and answer follow daprd: the body is `{"data", "metadata", "operation"}`; `data` reaches
the binding JSON-encoded (a string arrives quoted, as Go's json.Marshal sends it); the result's
data is the response body (204 when there is none) and its metadata comes back as
`metadata.<name>` headers, also on failure. The HTTP binding calls the component's `url` for
real (`metadata.path` appended), and a non-2xx answer is an error unless `errorIfNot2XX` is
false, as in components-contrib.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._bindingtypes import BindingError, BindingResult, OutputBinding
from ._components import Component, ResourceError, load_resources
from ._config import SidecarConfig
from ._errors import DaprError, read_json
from ._localstorage import LocalStorageBinding
from ._subsystem import SidecarContext

log = logging.getLogger("localdapr.bindings")

CODE = "ERR_INVOKE_OUTPUT_BINDING"
HTTP_OPERATIONS: tuple[str, ...] = (
    "create",
    "get",
    "head",
    "post",
    "put",
    "patch",
    "delete",
    "options",
    "trace",
)
_TRUTHY = frozenset({"1", "t", "true", "y", "yes", "on"})


class HTTPBinding:
    """`bindings.http`: one real HTTP request per invocation, to `url` + `metadata.path`."""

    operations = HTTP_OPERATIONS

    def __init__(self, component: Component, session: aiohttp.ClientSession) -> None:
        url = component.metadata.get("url", "")
        if not url.startswith(("http://", "https://")):
            raise ResourceError(f"binding {component.name!r}: metadata url must be http(s)")
        self._url = url
        self._meta = component.metadata
        self._session = session

    async def invoke(self, operation: str, data: bytes, metadata: dict[str, str]) -> BindingResult:
        method = "POST" if operation == "create" else operation.upper()
        url = self._url
        if metadata.get("path"):
            url = url.rstrip("/") + "/" + metadata["path"].lstrip("/")
        send_body = method in ("POST", "PUT", "PATCH")
        headers = self._headers(metadata, send_body)
        try:
            async with self._session.request(
                method, url, data=data if send_body else None, headers=headers
            ) as resp:
                body = await resp.read()
                meta = {"statusCode": str(resp.status), "status": f"{resp.status} {resp.reason}"}
                meta.update({k: ", ".join(resp.headers.getall(k)) for k in resp.headers})
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BindingError(f"{method} {url} failed: {exc!r}") from exc
        raise_on_status = self._meta.get("errorIfNot2XX", "true")
        raise_on_status = metadata.get("errorIfNot2XX") or raise_on_status
        if raise_on_status.lower() in _TRUTHY and resp.status // 100 != 2:
            raise BindingError(f"received status code {resp.status}", metadata=meta)
        return BindingResult(body, meta)

    def _headers(self, metadata: dict[str, str], send_body: bool) -> dict[str, str]:
        """Defaults, the security token, then every metadata key starting with a capital."""
        headers: dict[str, str] = {}
        if send_body and "Content-Type" not in metadata:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if "Accept" not in metadata:
            headers["Accept"] = "application/json; charset=utf-8"
        token, token_header = self._meta.get("securityToken"), self._meta.get("securityTokenHeader")
        if token and token_header:
            headers[token_header] = token
        headers.update({k: v for k, v in metadata.items() if k[:1].isupper()})
        return headers


_SERVED = frozenset({"bindings.http", "bindings.localstorage"})


class BindingsSubsystem:
    """Routes `POST /v1.0/bindings/{name}` to the output binding of that name."""

    name = "bindings"

    def __init__(self, config: SidecarConfig) -> None:
        self._config = config
        self._components: dict[str, Component] = {}
        self._bindings: dict[str, OutputBinding] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self, ctx: SidecarContext) -> None:
        res = load_resources(self._config.resources_path, app_id=self._config.app_id)
        for component in res.of_family("bindings"):
            if component.type not in _SERVED:
                # daprd stops on a component it cannot build unless the component says
                # `ignoreErrors: true`; then it is simply not there.
                why = f"binding {component.name!r}: type {component.type} is not served"
                if not component.ignore_errors:
                    raise ResourceError(f"{why} (set spec.ignoreErrors: true to skip it)")
                log.warning("%s; skipped (ignoreErrors)", why)
                continue
            self._components[component.name] = component
            if component.type == "bindings.http":
                self._bindings[component.name] = HTTPBinding(component, self._client())
            else:
                self._bindings[component.name] = LocalStorageBinding(component)

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def metadata(self) -> dict[str, Any]:
        return {
            "components": [
                {"name": c.name, "type": c.type, "version": c.version, "capabilities": []}
                for c in self._components.values()
            ]
        }

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1.0/bindings/{name}", self.invoke, methods=["POST", "PUT"])]

    async def invoke(self, request: Request) -> Response:
        name = request.path_params["name"]
        operation, data, metadata = _parse(name, await read_json(request))
        binding = self._binding(name, operation)
        try:
            result = await binding.invoke(operation, data, metadata)
        except BindingError as exc:
            # daprd answers every failed binding call 500, whatever the binding's reason.
            err = DaprError(500, CODE, f"error invoking output binding {name}: {exc}")
            response = err.response()
            _add_metadata_headers(response, exc.metadata)
            return response
        response = Response(status_code=204) if result.data is None else Response(result.data)
        _add_metadata_headers(response, result.metadata)
        return response

    def _binding(self, name: str, operation: str) -> OutputBinding:
        binding = self._bindings.get(name)
        if binding is None:
            why = f"couldn't find output binding {name}"
            raise DaprError(500, CODE, f"error invoking output binding {name}: {why}")
        if operation not in binding.operations:
            supported = " ".join(binding.operations)
            msg = f"does not support operation {operation}. supported operations:{supported}"
            raise DaprError(
                500, CODE, f"error invoking output binding {name}: binding {name} {msg}"
            )
        return binding

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        return self._session


def _parse(name: str, body: object) -> tuple[str, bytes, dict[str, str]]:
    """(operation, JSON-encoded data, metadata) from daprd's OutputBindingRequest shape."""
    bad_body = "failed deserializing HTTP body: "
    if not isinstance(body, dict):
        raise DaprError(
            400, "ERR_MALFORMED_REQUEST", bad_body + 'expected {"data", "metadata", "operation"}'
        )
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise DaprError(400, "ERR_MALFORMED_REQUEST", bad_body + "metadata must map to strings")
    operation = body.get("operation")
    if not isinstance(operation, str) or not operation:
        why = "operation field is missing from request"
        raise DaprError(500, CODE, f"error invoking output binding {name}: {why}")
    data = json.dumps(body.get("data"), separators=(",", ":"), ensure_ascii=False).encode()
    return operation, data, {str(k): v for k, v in metadata.items()}


def _add_metadata_headers(response: Response, metadata: dict[str, str]) -> None:
    for key, value in metadata.items():
        if key.lower() not in ("content-length", "transfer-encoding", "connection"):
            response.headers.append(f"metadata.{key}", value)
