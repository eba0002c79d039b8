"""Portable governance: an object moves between three real hosts and is never widened.

A and B trust issuer X; B forbids topic `alerts` and allows `audit`, which the policy does not
list; C trusts only issuer Y. Each host is its own app + localdapr + SQLite + host key.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import ROOT, eventually

OBJECT = "roamer-1"
Hosts = dict[str, ResidentHost]


def roamer_policy() -> dict[str, Any]:
    """The thermostat, plus a rule that needs no effect and a command publishing to `audit`."""
    return example(
        "thermostat",
        objects=["roamer-*"],
        data={"temperature": 20, "threshold": 30, "status": "ok", "seen": 20},
        evaluation={"every": "1s", "on_change": False},
        capabilities={"write": ["*"], "publish": ["alerts"]},
        permissions={
            "read": "'viewer' in caller.roles",
            "amend": "caller.sub == 'ops'",
            "export": "caller.sub == 'ops'",
            "evaluate": "caller.sub == 'ops'",
        },
        commands={
            "report": {
                "params": {"temperature": "number"},
                "when": "'sensor' in caller.roles",
                "do": [{"set": {"temperature": "params.temperature"}}],
            },
            "audit": {
                "when": "'sensor' in caller.roles",
                "do": [{"publish": {"topic": "audit", "data": "{'object': object.id}"}}],
            },
        },
        rules=[
            {"name": "seen", "when": "data.seen != data.temperature",
             "do": [{"set": {"seen": "data.temperature"}}]},
            *example("thermostat")["rules"],
        ],
    )  # fmt: skip


@pytest.fixture(scope="module")
def issuer_y() -> Issuer:
    return Issuer("https://issuer-y.example")


@pytest.fixture(scope="module")
def hosts(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, issuer_y: Issuer, sidecar: str
) -> Iterator[Hosts]:
    """Three hosts (each its own installation), started side by side to keep the wall time down."""
    observe = ["alerts", "audit"]
    made = {
        "a": ResidentHost(
            tmp_path_factory.mktemp("a"),
            trusted=[issuer],
            host_id="host-a",
            sidecar=sidecar,
            observe=observe,
        ),
        "b": ResidentHost(
            tmp_path_factory.mktemp("b"),
            trusted=[issuer],
            host_id="host-b",
            limits={"publish": ["audit"]},
            sidecar=sidecar,
            observe=observe,
        ),
        "c": ResidentHost(
            tmp_path_factory.mktemp("c"), trusted=[issuer_y], host_id="host-c", sidecar=sidecar
        ),
    }
    try:
        with ThreadPoolExecutor(len(made)) as pool:
            list(pool.map(lambda h: h.start(), made.values()))
        yield made
    finally:
        for host in made.values():
            host.stop()


@pytest.fixture(scope="module")
def ops(issuer: Issuer) -> str:
    return issuer.token("ops", "ops", "viewer")


@pytest.fixture(scope="module")
def sensor(issuer: Issuer) -> str:
    return issuer.token("sensor-1", "sensor")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)


def export(host: ResidentHost, object_id: str, token: str, **query: str) -> dict[str, Any]:
    response = host.call("POST", f"/objects/{object_id}/export", token, params=query)
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


def import_(host: ResidentHost, bundle: Any, token: str) -> httpx.Response:
    object_id = bundle.get("object_id", "x") if isinstance(bundle, dict) else "x"
    return host.call("POST", f"/objects/{object_id}/import", token, json=bundle)


def verify_cli(bundle_file: Path, hosts: Hosts) -> subprocess.CompletedProcess[str]:
    published = [hosts[h].http.get("/.well-known/jwks.json").json() for h in ("a", "b")]
    jwks = {"keys": [key for doc in published for key in doc["keys"]]}
    hosts_file = bundle_file.with_suffix(".hosts.json")
    hosts_file.write_text(json.dumps(jwks))
    trust = str(hosts["a"].workdir / "trust.jwks.json")
    return cli("verify", str(bundle_file), "--trust", trust, "--hosts", str(hosts_file))


def denied_topics(entries: list[dict[str, Any]]) -> str:
    return json.dumps([e["denied"] for e in entries if e["denied"]])


def test_an_object_moves_a_to_b_and_back_without_widening(
    hosts: Hosts, issuer: Issuer, ops: str, sensor: str, tmp_path: Path
) -> None:
    a, b = hosts["a"], hosts["b"]
    assert a.put_policy(OBJECT, issuer.sign(roamer_policy()), ops).status_code == 201
    a.command(OBJECT, "report", sensor, temperature=35)
    eventually(lambda: a.show(OBJECT, ops)["data"]["status"] == "alarm", timeout=5)
    eventually(lambda: [m for m in a.published("alerts") if "35" in str(m)], timeout=5)
    a.command(OBJECT, "report", sensor, temperature=10)
    eventually(lambda: a.show(OBJECT, ops)["data"] == _data(10, "ok"), timeout=5)

    # A -> B with the CLI: export --move, verify offline, import.
    out = cli("export", OBJECT, "--move", "--destination", b.app_url, "--url", a.app_url,
              "--token", ops)  # fmt: skip
    assert out.returncode == 0, out.stderr
    to_b = tmp_path / "to-b.json"
    to_b.write_text(out.stdout)
    first = json.loads(out.stdout)
    checked = verify_cli(to_b, hosts)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip().endswith("ok")
    assert_source_refuses(a, ops, sensor, moved_to=b.app_url)
    out = cli("import", str(to_b), "--url", b.app_url, "--token", ops)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["created"] is True

    # On B: data and lineage intact; rules run by reminder; alerts denied, audit unusable.
    on_b = b.show(OBJECT, ops)
    assert on_b["data"] == _data(10, "ok")
    assert on_b["status"] == "active"
    entries = b.entries(OBJECT, ops)
    assert entries[: len(first["lineage"])] == first["lineage"]
    assert entries[-1]["kind"] == "import"
    assert entries[-1]["extra"]["narrowed"]["publish"] == ["alerts"]
    b.command(OBJECT, "report", sensor, temperature=40)
    eventually(lambda: b.show(OBJECT, ops)["data"]["seen"] == 40, timeout=5)
    eventually(lambda: "pubsub/alerts" in denied_topics(b.entries(OBJECT, ops)), timeout=5)
    audit = b.command(OBJECT, "audit", sensor)
    assert audit.status_code == 200, audit.text
    assert audit.json()["applied"] is False
    assert "audit" in json.dumps(audit.json()["denied"])
    assert b.show(OBJECT, ops)["data"]["status"] == "ok"
    assert b.published("alerts") == []
    assert b.published("audit") == []

    # B -> A over HTTP: one continuous chain, and A publishes again.
    second = export(b, OBJECT, ops, move="true", destination=a.app_url)
    back = tmp_path / "to-a.json"
    back.write_text(json.dumps(second))
    checked = verify_cli(back, hosts)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    returned = import_(a, second, ops)
    assert returned.status_code == 200, returned.text
    assert returned.json()["created"] is False
    assert returned.json()["object"]["status"] == "active"
    assert_source_refuses(b, ops, sensor, moved_to=a.app_url)
    eventually(lambda: [m for m in a.published("alerts") if "40" in str(m)], timeout=5)
    chain = a.entries(OBJECT, ops)
    verify_lineage(chain)
    assert chain[: len(second["lineage"])] == second["lineage"]
    assert [e["kind"] for e in chain].count("import") == 2


def _data(temperature: int, status: str) -> dict[str, Any]:
    return {"temperature": temperature, "threshold": 30, "status": status, "seen": temperature}


def assert_source_refuses(host: ResidentHost, ops: str, sensor: str, *, moved_to: str) -> None:
    refused = host.command(OBJECT, "report", sensor, temperature=1)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["moved_to"]) == ("moved", moved_to)
    assert host.call("POST", f"/objects/{OBJECT}/evaluate", ops).status_code == 409
    assert host.show(OBJECT, ops)["status"] == "moved"
    listed = host.call("GET", "/objects", ops).json()["objects"]
    assert OBJECT not in [o["id"] for o in listed]


@pytest.fixture(scope="module")
def copied(hosts: Hosts, issuer: Issuer, ops: str, sensor: str) -> dict[str, Any]:
    """A plain copy of `roamer-2` exported from A (A keeps running it)."""
    a = hosts["a"]
    assert a.put_policy("roamer-2", issuer.sign(roamer_policy()), ops).status_code == 201
    a.command("roamer-2", "report", sensor, temperature=12)
    return export(a, "roamer-2", ops)


def test_a_host_that_does_not_trust_the_issuer_refuses_and_creates_nothing(
    hosts: Hosts, copied: dict[str, Any], issuer_y: Issuer
) -> None:
    c, token = hosts["c"], issuer_y.token("ops", "ops", "viewer")
    refused = import_(c, copied, token)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "untrusted_issuer"
    assert c.call("GET", "/objects/roamer-2", token).status_code == 404
    assert c.call("GET", "/objects", token).json()["objects"] == []


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def _entry_tamper(index: int) -> Callable[[dict[str, Any]], None]:
    def tamper(bundle: dict[str, Any]) -> None:
        entry = bundle["lineage"][index]
        entry["time"] = entry["time"][:-2] + ("1Z" if entry["time"][-2] != "1" else "2Z")

    return tamper


def test_tampered_bundles_are_refused_with_their_code_and_change_nothing(
    hosts: Hosts, copied: dict[str, Any], ops: str
) -> None:
    b = hosts["b"]
    cases: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
        ("data", lambda x: x["data"].update(temperature=13), "data_mismatch"),
        ("policy", lambda x: x.update(policy=_flip(x["policy"], 120)), "invalid_signature"),
        ("truncated", lambda x: x["lineage"].pop(), "lineage_broken"),
        ("reordered", lambda x: x["lineage"].insert(0, x["lineage"].pop(1)), "lineage_broken"),
        ("from_host", lambda x: x.update(from_host="host-z"), "invalid_host_signature"),
    ]
    for index in range(len(copied["lineage"])):
        cases.append((f"entry {index + 1}", _entry_tamper(index), "lineage_broken"))
    for name, tamper, code in cases:
        bundle = copy.deepcopy(copied)
        tamper(bundle)
        refused = import_(b, bundle, ops)
        assert (name, refused.json().get("code")) == (name, code), refused.text
        assert b.call("GET", "/objects/roamer-2", ops).status_code == 404, name


def test_replaying_an_old_bundle_is_a_conflict(
    hosts: Hosts, copied: dict[str, Any], ops: str, tmp_path: Path
) -> None:
    a, b = hosts["a"], hosts["b"]
    assert import_(b, copied, ops).status_code == 201
    length = b.show("roamer-2", ops)["lineage"]["length"]
    for host in (b, a):  # B is one entry ahead; A's own copy is not extended by it either
        replay = import_(host, copied, ops)
        assert replay.status_code == 409, replay.text
        assert replay.json()["code"] == "conflict"
    assert b.show("roamer-2", ops)["lineage"]["length"] == length
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**copied, "data": {**copied["data"], "temperature": 99}}))
    failed = verify_cli(tampered, hosts)
    assert failed.returncode == 1
    assert "data_mismatch" in failed.stdout


def test_a_host_requiring_trusted_hosts_imports_only_their_bundles(
    hosts: Hosts, issuer: Issuer, ops: str, tmp_path: Path
) -> None:
    a, b = hosts["a"], hosts["b"]
    trusted = tmp_path / "trusted-hosts.jwks.json"
    trusted.write_text(json.dumps(a.http.get("/.well-known/jwks.json").json()))
    env = {"RESIDENT_REQUIRE_TRUSTED_HOSTS": "true", "RESIDENT_TRUSTED_HOSTS": str(trusted)}
    for host, object_id in ((a, "roamer-from-a"), (b, "roamer-from-b")):
        assert host.put_policy(object_id, issuer.sign(roamer_policy()), ops).status_code == 201

    d_host = ResidentHost(
        tmp_path / "d", trusted=[issuer], host_id="host-d", env=env, sidecar=a.sidecar.name
    )
    with d_host as d:
        from_b = import_(d, export(b, "roamer-from-b", ops), ops)
        from_a = import_(d, export(a, "roamer-from-a", ops), ops)

        assert from_b.status_code == 403, from_b.text
        assert from_b.json()["code"] == "untrusted_host"
        assert d.call("GET", "/objects/roamer-from-b", ops).status_code == 404
        assert from_a.status_code == 201, from_a.text
        assert from_a.json()["host_trusted"] is True


FLOW: dict[str, Any] = {
    "id": "flow",
    "version": 1,
    "objects": ["flow-*"],
    "data": {"step": "draft", "entered": 0},
    "evaluation": {"every": "1s", "on_change": False},
    "capabilities": {"write": ["step", "entered"]},
    "permissions": {
        "read": "'viewer' in caller.roles",
        "amend": "caller.sub == 'ops'",
        "export": "caller.sub == 'ops'",
        "event": "caller.sub == 'ops'",
    },
    "workflow": {
        "initial": "draft",
        "states": {
            "draft": {
                "on_enter": [{"set": {"entered": "data.entered + 1"}}],
                "transitions": [{"to": "approved", "on": "approve"}],
            },
            "approved": {
                "on_enter": [{"set": {"step": "'approved'"}}],
                "transitions": [{"to": "done", "on": "finish"}],
            },
            "done": {"terminal": True},
        },
    },
}


def move(source: ResidentHost, target: ResidentHost, object_id: str, ops: str) -> None:
    bundle = export(source, object_id, ops, move="true", destination=target.app_url)
    imported = import_(target, bundle, ops)
    assert imported.status_code in {200, 201}, imported.text


def test_a_moved_workflow_resumes_where_it_was_and_back(
    hosts: Hosts, issuer: Issuer, ops: str
) -> None:
    """The workflow state travels in the bundle: the receiving host neither starts it over
    (its on_enter would run again: a paid order paid twice) nor, on a move back, resumes the
    stale state it had before."""
    a, b = hosts["a"], hosts["b"]
    viewer = issuer.token("ops", "ops", "viewer")
    assert a.put_policy("flow-1", issuer.sign(FLOW), ops).status_code == 201
    assert a.command("flow-1", "approve", ops).status_code == 200
    assert a.show("flow-1", viewer)["workflow"]["state"] == "approved"

    move(a, b, "flow-1", ops)
    eventually(lambda: b.show("flow-1", viewer)["cycles"] >= 2, timeout=10)  # b's fires ran
    on_b = b.show("flow-1", viewer)
    assert on_b["workflow"]["state"] == "approved"
    assert on_b["data"] == {"step": "approved", "entered": 1}  # draft's on_enter ran once
    assert b.command("flow-1", "finish", ops).status_code == 200

    move(b, a, "flow-1", ops)
    eventually(lambda: a.show("flow-1", viewer)["cycles"] >= 1, timeout=10)
    back = a.show("flow-1", viewer)
    assert back["workflow"]["state"] == "done"  # not a's stale "approved"
    assert back["data"] == {"step": "approved", "entered": 1}
    verify_lineage(a.entries("flow-1", viewer), data=back["data"])
