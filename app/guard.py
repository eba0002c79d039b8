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


class SidecarTokenGuard:
    """Pure ASGI middleware (no per-request task overhead on the hot actor path)."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self._app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._token is not None
            and scope["type"] == "http"
            and str(scope["path"]).startswith(GUARDED_PREFIXES)
            and not self._authorized(scope)
        ):
            body = json.dumps(
                {"errorCode": "ERR_UNAUTHORIZED", "message": "missing or wrong dapr-api-token"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        for name, value in scope.get("headers", ()):
            if name == HEADER:
                return hmac.compare_digest(value, self._token)
        return False
