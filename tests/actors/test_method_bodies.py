"""Every Dapr SDK's way of sending one argument reaches the object the same way.

The JavaScript SDK's `ActorProxyBuilder` sends a method's argument list (`[{...}]`); Python,
Java and Go send the object itself. Any other body is an `invalid_request` that says what the
method expects, and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.actors.fakes import InMemorySidecar
from tests.actors.test_failed_turns import stored
from tests.actors.test_requests import activation, installed, token


async def call(method: str, body: Any, sidecar: InMemorySidecar) -> dict[str, Any]:
    actor = activation(sidecar)
    result: dict[str, Any] = await getattr(actor, method)(body)
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    return result


async def test_a_command_in_a_one_element_array_is_applied_as_the_object_itself() -> None:
    sidecar, _ = await installed()
    request = {"name": "increment", "params": {}, "token": token()}

    plain = await call("command", request, sidecar)
    wrapped = await call("command", [request], sidecar)

    assert plain["applied"] is True
    assert wrapped["applied"] is True
    assert wrapped["seq"] == plain["seq"] + 1
    assert stored(sidecar, "data") == {"count": 2}


@pytest.mark.parametrize(
    "method", ["install_policy", "snapshot", "lineage", "evaluate", "export", "import_object"]
)
async def test_every_method_unwraps_the_javascript_sdks_argument_list(method: str) -> None:
    sidecar, _ = await installed()

    plain = await call(method, {"token": token()}, sidecar)
    wrapped = await call(method, [{"token": token()}], sidecar)

    # The same outcome either way (a refusal for methods that need more than a token).
    assert plain.keys() == wrapped.keys()
    assert plain.get("error", {}).get("code") == wrapped.get("error", {}).get("code")
    assert "must be a JSON object" not in str(wrapped)


@pytest.mark.parametrize(
    ("body", "got"),
    [
        ([], "a JSON array of 0 element(s) holding nothing"),
        ([{"token": "a"}, {"token": "b"}], "a JSON array of 2 element(s) holding object"),
        (["increment"], "a JSON array of 1 element(s) holding string"),
        ([[{"token": "a"}]], "a JSON array of 1 element(s) holding array"),
        ("increment", "a JSON string"),
        (42, "a JSON number"),
        (True, "a JSON boolean"),
        (None, "no body (null)"),
    ],
)
async def test_any_other_body_is_an_invalid_request_naming_what_was_expected(
    body: Any, got: str
) -> None:
    sidecar, _ = await installed()
    before = dict(sidecar.state)

    refused = await call("command", body, sidecar)

    assert refused == {
        "error": {
            "code": "invalid_request",
            "message": "the Command request must be a JSON object, or a JSON array holding "
            "exactly that one object (as the JavaScript SDK's ActorProxyBuilder sends it); "
            f"got {got}",
        }
    }
    assert sidecar.state == before
