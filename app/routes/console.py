"""`/console`: the audit console, a static shell that reads everything through the HTTP API.

The shell (HTML, CSS, JavaScript modules shipped in the package) holds no data and needs no
token; every object, policy and lineage entry it shows comes from the API with the token the
user signed in with, so it shows exactly what that caller may read. A strict Content Security
Policy keeps it to its own files: no inline script, no other origin, no framing.

`resident dev` also sets RESIDENT_DEV_TOKEN; only then does `/console/dev-token` exist, and it
answers only a browser on loopback that addressed the host by a loopback name (a page from
another site that rebinds its DNS name to 127.0.0.1 sends its own name as Host, and is refused).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ApiError
from ..guard import LOOPBACK
from ..settings import Settings

STATIC = Path(__file__).resolve().parent.parent / "console"
PREFIX = "/console"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}

router = APIRouter(tags=["console"], include_in_schema=False)


@router.api_route(PREFIX, methods=["GET", "HEAD"])
async def shell() -> FileResponse:
    """The static shell; it asks for a token before it reads anything."""
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


@router.get(PREFIX + "/")
async def shell_slash() -> RedirectResponse:
    return RedirectResponse(PREFIX, status_code=308)


class _Hardened:
    """Adds the console's security headers to every static file it serves."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _dev_token_route(token: str) -> APIRouter:
    dev = APIRouter(tags=["console"], include_in_schema=False)

    @dev.post(PREFIX + "/dev-token")
    async def dev_token(request: Request) -> JSONResponse:
        """`resident dev` only: the token it printed, for a browser on this machine."""
        client = request.client.host if request.client else ""
        if client not in LOOPBACK or _host_name(request) not in LOOPBACK:
            raise ApiError("forbidden", "the dev sign-in answers only on loopback")
        return JSONResponse({"token": token}, headers={"cache-control": "no-store"})

    return dev


def install_console(app: FastAPI, settings: Settings) -> None:
    """Mount the shell and its files; the dev sign-in only when `resident dev` serves."""
    app.include_router(router)
    files = StaticFiles(directory=STATIC, html=False)
    app.mount(PREFIX + "/static", _Hardened(files), name="console-static")
    dev_signin = bool(settings.dev_token)

    @app.get(PREFIX + "/config.json", include_in_schema=False)
    async def config() -> JSONResponse:
        """What the shell needs before sign-in: whether to offer the dev sign-in."""
        return JSONResponse({"dev_signin": dev_signin}, headers=SECURITY_HEADERS)

    if settings.dev_token:
        app.include_router(_dev_token_route(settings.dev_token))
