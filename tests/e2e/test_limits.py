"""Host input limits end to end, with small limits set through the environment: each refusal
is its documented 413/422 problem with a stable code, changes nothing, and no input, however
deep, gets a 5xx, through the app or straight through the sidecar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.hosts import Issuer, ResidentHost
from tests.realdapr import Daprd
from tests.support import eventually

LIMITS = {
    "RESIDENT_MAX_BODY_BYTES": "65536",
    "RESIDENT_MAX_DATA_BYTES": "2048",
    "RESIDENT_MAX_JSON_DEPTH": "32",
    "RESIDENT_MAX_RULES": "4",
    "RESIDENT_MAX_COMMANDS": "4",
    "RESIDENT_MAX_EXPRESSION_CHARS": "256",
}
CHUNK = "0123456789" * 20  # each command or cycle adds 200 characters


def policy(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "limits",
        "version": 1,
        "objects": ["lim-*"],
        "data": {"s": ""},
        "evaluation": {"every": "1h"},
        "capabilities": {"write": ["s"]},
        "permissions": {"read": "true", "amend": "true", "evaluate": "true"},
        "commands": {
            "grow": {"do": [{"set": {"s": f"data.s + '{CHUNK}'"}}]},
            "grow_more": {"do": [{"set": {"s": "data.s + data.s + data.s + data.s"}}]},
            "echo": {"params": {"value": "object"}, "returns": "params.value"},
        },
    }
    document.update(overrides)
    return document


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    workdir: Path = tmp_path_factory.mktemp("limits")
    with ResidentHost(workdir, trusted=[issuer], env=LIMITS, sidecar=sidecar) as running:
        yield running


@pytest.fixture(scope="module")
def ops(host: ResidentHost, issuer: Issuer) -> str:
    token = issuer.token("ops", "ops")
    assert host.put_policy("lim-1", issuer.sign(policy()), token).status_code == 201
    return token


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def state(host: ResidentHost, object_id: str, token: str) -> tuple[Any, list[dict[str, Any]]]:
    return host.show(object_id, token)["data"], host.entries(object_id, token)


def test_an_oversized_command_body_is_413(host: ResidentHost, ops: str) -> None:
    body = b'{"value": {"x": "' + b"x" * 70_000 + b'"}}'
    response = host.call("POST", "/objects/lim-1/commands/echo", ops, content=body)
    problem(response, 413, "body_too_large")


@pytest.mark.parametrize("levels", [33, 5_000])
def test_too_deep_params_are_422_never_5xx(host: ResidentHost, ops: str, levels: int) -> None:
    before = state(host, "lim-1", ops)
    body = b'{"value": {"x": ' + deep(levels - 2) + b"}}"
    response = host.call("POST", "/objects/lim-1/commands/echo", ops, content=body)
    problem(response, 422, "too_deep")
    assert state(host, "lim-1", ops) == before


def test_params_at_the_depth_limit_pass(host: ResidentHost, ops: str) -> None:
    body = b'{"value": {"x": ' + deep(30) + b"}}"
    response = host.call("POST", "/objects/lim-1/commands/echo", ops, content=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/objects/lim-1/policy"), ("POST", "/objects/lim-1/import")],
)
def test_deep_policy_and_bundle_bodies_are_422(
    host: ResidentHost, ops: str, method: str, path: str
) -> None:
    body = b'{"policy": ' + deep(5_000) + b"}"
    headers = {"content-type": "application/json"}
    response = host.call(method, path, ops, content=body, headers=headers)
    problem(response, 422, "too_deep")


def test_too_many_rules_is_422(host: ResidentHost, issuer: Issuer, ops: str) -> None:
    rules = [{"name": f"r{i}", "when": "false", "do": [{"unset": ["s"]}]} for i in range(5)]
    response = host.put_policy("lim-rules", issuer.sign(policy(rules=rules)), ops)
    body = problem(response, 422, "invalid_policy")
    assert "has 5 rules; this host allows at most 4" in body["detail"]


def test_too_many_commands_is_422(host: ResidentHost, issuer: Issuer, ops: str) -> None:
    commands = {f"c{i}": {"returns": "1"} for i in range(5)}
    response = host.put_policy("lim-cmds", issuer.sign(policy(commands=commands)), ops)
    assert "has 5 commands" in problem(response, 422, "invalid_policy")["detail"]


def test_a_long_expression_is_422_naming_it(host: ResidentHost, issuer: Issuer, ops: str) -> None:
    commands = {"long": {"when": "true" + " " * 300}}
    response = host.put_policy("lim-expr", issuer.sign(policy(commands=commands)), ops)
    detail = problem(response, 422, "invalid_policy")["detail"]
    assert "command 'long' when: expression is 304 characters" in detail


def test_initial_data_over_the_limit_is_refused(
    host: ResidentHost, issuer: Issuer, ops: str
) -> None:
    response = host.put_policy("lim-init", issuer.sign(policy(data={"s": "x" * 3000})), ops)
    problem(response, 413, "data_too_large")


def test_data_growth_past_the_limit_is_413_and_changes_nothing(
    host: ResidentHost, ops: str
) -> None:
    for _ in range(3):
        assert host.command("lim-1", "grow", ops).status_code == 200
    before = state(host, "lim-1", ops)
    response = host.command("lim-1", "grow_more", ops)
    assert "RESIDENT_MAX_DATA_BYTES" in problem(response, 413, "data_too_large")["detail"]
    assert state(host, "lim-1", ops) == before


def test_a_cycle_past_the_limit_is_denied_and_recorded(
    host: ResidentHost, issuer: Issuer, ops: str
) -> None:
    rules = [{"name": "grow", "when": "true", "do": [{"set": {"s": f"data.s + '{CHUNK}'"}}]}]
    assert host.put_policy("lim-cycle", issuer.sign(policy(rules=rules)), ops).status_code == 201
    outcomes = []
    for _ in range(12):
        response = host.call("POST", "/objects/lim-cycle/evaluate", ops)
        assert response.status_code == 200, response.text
        outcomes.append(response.json())
    # {"s": "..."} is 8 + 200 n bytes: ten cycles fit in 2048, the eleventh would not.
    assert [bool(o["changes"]) for o in outcomes] == [True] * 10 + [False] * 2
    assert outcomes[10]["denied"][0]["rule"] == "grow"
    assert outcomes[10]["denied"][0]["reason"].startswith("data_too_large")
    data, entries = state(host, "lim-cycle", ops)
    assert len(data["s"]) == 10 * len(CHUNK)
    assert [e["kind"] for e in entries[-2:]] == ["cycle", "cycle"]
    assert entries[-1]["denied"]
    assert not entries[-1]["changes"]
    assert host.show("lim-cycle", ops)["cycles"] == 12  # the object keeps running


@pytest.mark.parametrize("levels", [40, 5_000])
def test_a_deep_body_straight_to_the_sidecar_is_refused_not_a_crash(
    host: ResidentHost, ops: str, levels: int
) -> None:
    before = state(host, "lim-1", ops)
    url = f"{host.dapr_url}/v1.0/actors/ResidentObject/lim-1/method/Command"
    params = b'{"value": ' + deep(levels) + b"}"
    body = b'{"name": "echo", "token": "' + ops.encode() + b'", "params": ' + params + b"}"
    response = httpx.post(url, content=body, headers=host.token_headers(), timeout=30)
    assert response.status_code < 500, response.text
    assert response.json()["error"]["code"] == "too_deep"
    assert state(host, "lim-1", ops) == before


def test_a_workflow_timeout_past_the_limit_is_denied_and_recorded(
    host: ResidentHost, issuer: Issuer, ops: str
) -> None:
    workflow = {
        "initial": "filling",
        "states": {
            "filling": {"transitions": [{"to": "full", "after": "1s"}]},
            "full": {"terminal": True, "on_enter": [{"set": {"s": "data.s + data.s"}}]},
        },
    }
    document = policy(data={"s": CHUNK * 6}, workflow=workflow)  # doubling 1,200 chars: too big
    assert host.put_policy("lim-flow", issuer.sign(document), ops).status_code == 201

    def denied_timeouts() -> list[dict[str, Any]]:
        entries = host.entries("lim-flow", ops)
        return [e for e in entries if e["kind"] == "denied" and e["extra"]["trigger"] == "timeout"]

    denial = eventually(denied_timeouts, timeout=10)[0]
    assert denial["denied"][0]["reason"].startswith("data_too_large")
    snapshot = host.show("lim-flow", ops)
    assert snapshot["workflow"]["state"] == "filling"
    assert snapshot["data"] == {"s": CHUNK * 6}


@pytest.mark.daprd
def test_a_body_the_sidecar_refuses_is_a_413_not_a_503(tmp_path: Path, issuer: Issuer) -> None:
    """daprd refuses bodies over --max-body-size (4 MiB by default, also between sidecars);
    when the app's own limit lets a call through that its sidecar refuses, the caller gets
    413 `body_too_large`, not an "unavailable" object."""
    host = ResidentHost(tmp_path / "host", trusted=[issuer], sidecar="daprd")
    assert host.control is not None
    host.sidecar = Daprd(host.control, max_body_size="64Ki")
    with host:
        ops = issuer.token("ops", "ops")
        assert host.put_policy("lim-small", issuer.sign(policy()), ops).status_code == 201
        big = {"value": {"blob": "x" * 100_000}}  # under the app's 1 MiB, over the sidecar's
        response = host.command("lim-small", "echo", ops, **big)
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "body_too_large"
        assert host.command("lim-small", "echo", ops, value={"ok": 1}).status_code == 200
