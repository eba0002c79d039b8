"""Hostile input through the actor's own methods (as a direct sidecar call would send it):
every request gets a result or a typed refusal, never an exception, and a refusal changes
neither state nor lineage."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ResidentObject
from policies import sign_policy
from tests.actors.fakes import InMemorySidecar
from tests.actors.test_failed_turns import COUNTER, KEY, new_actor, token

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
requests = st.dictionaries(
    st.sampled_from(["name", "params", "token", "policy", "after", "limit", "bundle", "move"]),
    json_values,
    max_size=5,
)
METHODS = [
    "install_policy",
    "command",
    "snapshot",
    "lineage",
    "evaluate",
    "export",
    "import_object",
]


def installed() -> tuple[InMemorySidecar, ResidentObject]:
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    setup = actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})
    asyncio.run(setup)
    return sidecar, actor


async def call(actor: ResidentObject, method: str, request: Any) -> Any:
    result = await getattr(actor, method)(request)
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(METHODS), request=requests | json_values, authentic=st.booleans())
def test_any_request_is_answered_and_refusals_change_nothing(
    method: str, request: Any, authentic: bool
) -> None:
    sidecar, actor = installed()
    if authentic and isinstance(request, dict):
        request = {**request, "token": token()}
    before = dict(sidecar.state)

    result = asyncio.run(call(actor, method, request))

    assert isinstance(result, dict)
    if "error" in result:
        assert set(result["error"]) >= {"code", "message"}
        assert sidecar.state == before
