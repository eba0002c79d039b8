"""A turn whose sidecar call is gone does not commit (actors._calls).

daprd's per-object lock lasts as long as its call into the app. When that call's connection
drops (daprd killed or restarted, or it cancelled the call), daprd may deliver the object's next
call here or on another replica, which reads the store afresh; a turn still running here for the
lost call acts on what it read before, and its commit would overwrite the newer lineage entry.
The chaos test found it: a daprd SIGKILLed and restarted under load, and five objects' lineages
forked (an entry whose effect was published, then overwritten by a stale turn's).

These tests serve the app's real ASGI path (`ActorFastPath`) under uvicorn on loopback, so the
dropped connection is a real one, over the in-memory sidecar (where a turn can be held).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
import uvicorn
from dapr.actor.runtime.runtime import ActorRuntime
from starlette.types import Receive, Scope, Send

from actors import ACTOR_TYPE, HostConfig, PlainJSONSerializer, actor_factory, turn_running
from actors._serializer import StateJSONSerializer
from app.actor_fastpath import ActorFastPath
from policies import TrustStore, sign_policy
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY, token
from tests.support import eventually_async

OBJECT = "counter-1"
COMMAND = f"/actors/{ACTOR_TYPE}/{OBJECT}/method/Command"


POLICY_READ = ("GET", "/state/policy")  # a fresh activation's first read
TRANSACTION = ("PUT", "/state")  # a turn's commit


class HeldSidecar(InMemorySidecar):
    """Holds the next call `hold` names, (method, path ending), until released."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: tuple[str, str] | None = None
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes]:
        if self.hold is not None and method == self.hold[0] and path.endswith(self.hold[1]):
            self.hold = None
            self.held.set()
            await self.release.wait()
        return await super().request(method, path, body=body, headers=headers, params=params)

    def stored(self, key: str) -> Any:
        """A stored value (the app's serializer stores it as a JSON string of its JSON)."""
        value = json.loads(self.state[f"{ACTOR_TYPE}||{OBJECT}||{key}"])
        return json.loads(value) if isinstance(value, str) else value


async def sidecar_config(scope: Scope, receive: Receive, send: Send) -> None:
    """What the SDK's DaprActor answers on `/dapr/config` (all the fast path passes on here)."""
    body = json.dumps({"entities": [ACTOR_TYPE]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def served() -> AsyncIterator[tuple[HeldSidecar, int]]:
    """The fast path under uvicorn on a free loopback port, over a counter at count 0."""
    sidecar = HeldSidecar()
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    creator = object_on(sidecar, host, OBJECT)
    await creator.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})
    await creator._on_post_actor_method_internal(None)  # type: ignore[arg-type]
    await ActorRuntime.register_actor(
        type(creator),
        message_serializer=PlainJSONSerializer(),
        state_serializer=StateJSONSerializer(),
        actor_factory=actor_factory(host, sidecar),
        actor_client=sidecar,
    )
    app = ActorFastPath(sidecar_config, actor_types=frozenset({ACTOR_TYPE}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually_async(started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield sidecar, port
    finally:
        server.should_exit = True
        await serving
        ActorRuntime._actor_managers.pop(ACTOR_TYPE, None)


async def send_request(
    port: int, method: str, path: str, body: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One HTTP/1.1 request on a fresh loopback connection, as a sidecar sends it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"{method} {path} HTTP/1.1\r\nhost: app\r\ncontent-length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def increment_body() -> bytes:
    return json.dumps({"name": "increment", "params": {}, "token": token()}).encode()


async def call_increment(port: int) -> tuple[int, dict[str, Any]]:
    reader, writer = await send_request(port, "PUT", COMMAND, increment_body())
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    writer.close()
    return int(status_line.split()[1]), json.loads(body)


async def sidecar_reads_config(port: int) -> None:
    reader, writer = await send_request(port, "GET", "/dapr/config")
    assert (await reader.readline()).split()[1] == b"200"
    writer.close()


async def turn_over() -> bool:
    return not turn_running(OBJECT)


async def test_a_turn_whose_sidecar_connection_dropped_writes_nothing(
    served: tuple[HeldSidecar, int],
) -> None:
    sidecar, port = served
    lineage_before = sidecar.stored("meta")["seq"]
    sidecar.hold = POLICY_READ
    _, writer = await send_request(port, "PUT", COMMAND, increment_body())
    await asyncio.wait_for(sidecar.held.wait(), timeout=10)

    writer.close()  # the sidecar is gone: killed, restarted, or it cancelled the call
    await writer.wait_closed()
    await asyncio.sleep(0.2)  # the app reads the dropped connection while the turn is held
    sidecar.release.set()
    await eventually_async(turn_over)

    assert sidecar.stored("data") == {"count": 0}
    assert sidecar.stored("meta")["seq"] == lineage_before
    assert sidecar.published == []

    # The same call over a connection that stays open is applied: the refusal was the drop.
    status, result = await call_increment(port)
    assert status == 200, result
    assert sidecar.stored("data") == {"count": 1}
    assert sidecar.stored("meta")["seq"] == lineage_before + 1


async def test_a_turn_that_began_before_the_sidecar_restarted_writes_nothing(
    served: tuple[HeldSidecar, int],
) -> None:
    sidecar, port = served
    await sidecar_reads_config(port)  # the sidecar's first start
    sidecar.hold = POLICY_READ
    answer = asyncio.create_task(call_increment(port))
    await asyncio.wait_for(sidecar.held.wait(), timeout=10)

    # A new sidecar on the same port reads the app's config before it serves anything.
    await sidecar_reads_config(port)
    sidecar.release.set()
    status, result = await asyncio.wait_for(answer, timeout=10)

    assert status == 200  # an actor refusal travels as its error envelope
    assert result["error"]["code"] == "unavailable", result
    assert sidecar.stored("data") == {"count": 0}

    status, result = await call_increment(port)  # a call of the new sidecar is applied
    assert status == 200, result
    assert sidecar.stored("data") == {"count": 1}


async def test_a_transaction_on_its_way_when_the_sidecar_restarts_is_aborted(
    served: tuple[HeldSidecar, int],
) -> None:
    """A new daprd holds a transaction for an object it does not host yet and applies it once
    placement gives it the object: one sent just before the restart is aborted."""
    sidecar, port = served
    await sidecar_reads_config(port)
    sidecar.hold = TRANSACTION
    answer = asyncio.create_task(call_increment(port))
    await asyncio.wait_for(sidecar.held.wait(), timeout=10)

    await sidecar_reads_config(port)  # the sidecar restarted while the transaction was held
    # The held transaction goes on now, unless it was aborted.
    asyncio.get_running_loop().call_later(0.2, sidecar.release.set)
    status, result = await asyncio.wait_for(answer, timeout=10)

    assert status == 200
    assert result["error"]["code"] == "unavailable", result
    assert sidecar.stored("data") == {"count": 0}
    status, result = await call_increment(port)
    assert status == 200, result
    assert sidecar.stored("data") == {"count": 1}
