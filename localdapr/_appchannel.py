"""The sidecar's keep-alive HTTP channel to its app (aiohttp: far faster than httpx here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from ._config import SidecarConfig

APP_TOKEN_HEADER = "dapr-api-token"


class AppUnreachableError(ConnectionError):
    """The app did not accept the connection or dropped it; a retry later may succeed."""


@dataclass(frozen=True, slots=True)
class AppResponse:
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
        try:
            async with self._client().request(
                method,
                self._base + path,
                data=body,
                headers=sent,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                payload = await resp.read()
                return AppResponse(resp.status, payload, dict(resp.headers))
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise AppUnreachableError(f"app at {self._base} unreachable: {exc!r}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
