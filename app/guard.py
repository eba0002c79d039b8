"""Only the sidecar may call the actor routes.

With `APP_API_TOKEN` set (Dapr's sidecar-to-app token), `/actors/*` and `/dapr/*` need the
matching `dapr-api-token` header. Without this, anyone reaching the app port could call an
actor directly, outside the sidecar's turn lock, and break atomic admission.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

GUARDED_PREFIXES = ("/actors/", "/actors", "/dapr/")
HEADER = b"dapr-api-token"


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class SidecarTokenGuard:
    """Pure ASGI middleware (no per-request task overhead on the hot actor path).

    Without APP_API_TOKEN nothing proves a caller is the sidecar, so the guarded routes are
    served only when the app listens on loopback, unless `allow_unauthenticated` says
    otherwise (RESIDENT_ALLOW_UNAUTHENTICATED_SIDECAR)."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, allow_unauthenticated: bool = False
    ) -> None:
        self._app = app
        self._token = token.encode() if token else None
        self._allow_unauthenticated = allow_unauthenticated

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(GUARDED_PREFIXES):
            if self._token is not None and not self._authorized(scope):
                await _refuse(send, 401, "ERR_UNAUTHORIZED", "missing or wrong dapr-api-token")
                return
            if self._token is None and not self._allow_unauthenticated and _exposed(scope):
                message = (
                    "APP_API_TOKEN is not set and the app listens beyond loopback: set it (and "
                    "DAPR_API_TOKEN) for daprd, or RESIDENT_ALLOW_UNAUTHENTICATED_SIDECAR=true"
                )
                await _refuse(send, 403, "ERR_FORBIDDEN", message)
                return
        await self._app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                return hmac.compare_digest(value, self._token)
        return False


def _exposed(scope: Scope) -> bool:
    """The app listens on an address other than loopback (uvicorn --host 0.0.0.0, a pod)."""
    server = scope.get("server")
    return not (server and str(server[0]) in LOOPBACK)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"errorCode": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
