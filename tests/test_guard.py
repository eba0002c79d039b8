"""Without APP_API_TOKEN the sidecar-only routes answer on loopback only (unless allowed)."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.guard import SidecarTokenGuard


async def answer(
    guard: SidecarTokenGuard,
    *,
    server: tuple[str, int],
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http", "method": "PUT", "path": path, "server": server,
        "headers": headers or [],
    }  # fmt: skip
    await guard(scope, receive, send)
    return int(sent[0]["status"])


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


ACTOR = "/actors/ResidentObject/x/method/Deliver"


@pytest.mark.parametrize(
    ("server", "allowed", "status"),
    [
        (("127.0.0.1", 8000), False, 200),
        (("::1", 8000), False, 200),
        (("10.1.2.3", 8000), False, 403),
        (("0.0.0.0", 8000), False, 403),
        (("10.1.2.3", 8000), True, 200),
    ],
)
async def test_without_a_token_only_loopback_serves_sidecar_routes(
    server: tuple[str, int], allowed: bool, status: int
) -> None:
    guard = SidecarTokenGuard(ok, token=None, allow_unauthenticated=allowed)
    assert await answer(guard, server=server, path=ACTOR) == status
    assert await answer(guard, server=server, path="/dapr/events/pubsub/t") == status
    assert await answer(guard, server=server, path="/objects/x") == 200


async def test_with_a_token_every_address_needs_it() -> None:
    guard = SidecarTokenGuard(ok, token="s3cret")
    assert await answer(guard, server=("10.1.2.3", 1), path=ACTOR) == 401
    header = [(b"dapr-api-token", b"s3cret")]
    assert await answer(guard, server=("10.1.2.3", 1), path=ACTOR, headers=header) == 200
