"""The sidecar's keep-alive HTTP channel to its app.

Calls go through H1Pool (httptools over asyncio: several times cheaper per request than
aiohttp's client, which in turn is far faster than httpx here); HEAD goes through aiohttp,
whose parser knows a HEAD response carries no body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from ._config import SidecarConfig
from ._h1pool import ConnectionDropped, H1Pool

APP_TOKEN_HEADER = "dapr-api-token"


class AppUnreachableError(ConnectionError):
    """The app did not accept the connection or dropped it; a retry later may succeed."""


@dataclass(frozen=True, slots=True)
class AppResponse:
    """The app's answer; header names are lower-case (HTTP names are case-insensitive)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class AppChannel:
    """Calls the app as daprd does: base URL from the app port, app token on every call."""

    def __init__(self, config: SidecarConfig, *, connections: int = 256) -> None:
        self._base = f"http://{config.app_host}:{config.app_port}"
        self._token = config.app_api_token
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._pool: H1Pool | None = None
        self._host, self._port = config.app_host, config.app_port
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=30),
                auto_decompress=False,
            )
        return self._session

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> AppResponse:
        """Send one request to the app; raise AppUnreachableError when it cannot be reached."""
        sent = dict(headers or {})
        if self._token:
            sent[APP_TOKEN_HEADER] = self._token
        if method.upper() == "HEAD":
            return await self._call_aiohttp(method, path, body, sent, timeout)
        if self._pool is None:
            self._pool = H1Pool(self._host, self._port, limit=self._connections)
        try:
            status, got, payload = await self._pool.request(method, path, body, sent, timeout)
        except (OSError, ConnectionDropped, TimeoutError) as exc:
            raise AppUnreachableError(f"app at {self._base} unreachable: {exc!r}") from exc
        return AppResponse(status, payload, got)

    async def _call_aiohttp(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> AppResponse:
        try:
            async with self._client().request(
                method,
                self._base + path,
                data=body,
                headers=headers,
                timeout=self._timeout(timeout),
            ) as resp:
                payload = await resp.read()
                got = {k.lower(): v for k, v in resp.headers.items()}
                return AppResponse(resp.status, payload, got)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise AppUnreachableError(f"app at {self._base} unreachable: {exc!r}") from exc

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(seconds)
        if found is None:
            found = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return found

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None
