"""No policy can make the sidecar client call any route but its own effect's route.

Effect names (topics, pub/sub and binding names, app ids, methods) come from policies, which
any trusted issuer writes. Hostile names are refused when the policy loads; whatever loads is
percent-escaped segment by segment, and the request line the sidecar sees is checked here on a
real socket (aiohttp would otherwise collapse `..` segments).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import unquote

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import SidecarClient
from actors._effects import deliver_one
from policies import InvalidPolicy, TrustStore, load_policy, sign_policy
from policies._signing import POLICY_TYP, sign_compact
from tests.actors.test_failed_turns import COUNTER, KEY


def host_trust() -> TrustStore:
    return TrustStore.from_jwks({"keys": [KEY.public_jwk]})


HOSTILE = [
    "..",
    ".",
    "../../actors/ResidentObject/victim/method/Deliver",
    "a/../b",
    "alerts?x=1",
    "alerts#frag",
    "%2e%2e",
    "al erts",
    "a\nb",
    "",
    "/leading",
]


class RequestLines:
    """A socket that answers 204 to anything and keeps each request's target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            self.targets.append(line.decode().split(" ")[1])
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
        writer.close()


def policy_with(action: dict[str, object]) -> dict[str, object]:
    return {
        **COUNTER,
        "capabilities": {"write": ["count"], "publish": ["*"], "bindings": ["*"], "services": []},
        "commands": {"go": {"do": [action]}},
    }


ACTIONS = {
    "publish.topic": lambda n: {"publish": {"topic": n}},
    "publish.pubsub": lambda n: {"publish": {"topic": "t", "pubsub": n}},
    "invoke_binding.name": lambda n: {"invoke_binding": {"name": n, "operation": "create"}},
    "invoke_binding.operation": lambda n: {"invoke_binding": {"name": "b", "operation": n}},
    "invoke_service.app_id": lambda n: {"invoke_service": {"app_id": n, "method": "m"}},
    "invoke_service.method": lambda n: {"invoke_service": {"app_id": "a", "method": n}},
}


@pytest.mark.parametrize("field", sorted(ACTIONS))
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_effect_names_are_refused_when_the_policy_loads(field: str, name: str) -> None:
    # Signed as an issuer's own tooling would, without our `sign_policy`'s checks.
    document = {**policy_with(ACTIONS[field](name)), "iat": int(time.time())}
    jws = sign_compact(rfc8785.dumps(document), KEY, typ=POLICY_TYP)
    with pytest.raises(InvalidPolicy):
        load_policy(jws, host_trust(), object_id="counter-1")


NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,30}\Z")
METHODS = st.lists(
    st.from_regex(r"\A[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,12}\Z"), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(pubsub=NAMES, topic=METHODS, binding=NAMES, app_id=NAMES, method=METHODS)
def test_loaded_effects_reach_only_their_own_route(
    pubsub: str, topic: list[str], binding: str, app_id: str, method: list[str]
) -> None:
    joined, topic_path = "/".join(method), "/".join(topic)
    actions = [
        {"publish": {"topic": topic_path, "pubsub": pubsub}},
        {"invoke_binding": {"name": binding, "operation": "create"}},
        {"invoke_service": {"app_id": app_id, "method": joined}},
    ]
    for action in actions:  # every name the model accepts loads
        load_policy(sign_policy(policy_with(action), KEY), host_trust(), object_id="counter-1")
    items = [
        {"kind": "publish", "pubsub": pubsub, "topic": topic_path, "id": "e.0"},
        {"kind": "invoke_binding", "name": binding, "operation": "create", "id": "e.1"},
        {"kind": "invoke_service", "app_id": app_id, "method": joined, "id": "e.2"},
    ]
    expected = [
        ["", "v1.0", "publish", pubsub, *topic],
        ["", "v1.0", "bindings", binding],
        ["", "v1.0", "invoke", app_id, "method", *method],
    ]
    asyncio.run(_deliver_and_check(items, expected))


async def _deliver_and_check(items: list[dict[str, str]], expected: list[list[str]]) -> None:
    lines = RequestLines()
    server = await asyncio.start_server(lines._serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = SidecarClient(base_url=f"http://127.0.0.1:{port}/v1.0")
    try:
        for item in items:
            await deliver_one(client, item, object_id="counter-1", host_id="h")
    finally:
        await client.close()
        server.close()
    assert [[unquote(p) for p in t.split("?")[0].split("/")] for t in lines.targets] == expected
    for target in lines.targets:
        assert ".." not in target.split("/")
