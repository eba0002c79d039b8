"""Resident objects called from the JavaScript, Java and Go Dapr SDKs, on both sidecars.

Each language's example under clients/ (the code the README shows) runs as a real program
against a real host: it installs the thermostat policy, reports a temperature, reads the
snapshot and the lineage, and gets a refusal back as the documented error envelope. Every reply
must also match the JSON Schema the typed clients are generated from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.e2e.sdkclients import BUILDERS, CLIENTS, ClientProgram

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The object each example calls (the JavaScript one is the snippet, unchanged).
OBJECT_IDS = {"javascript": "thermostat-7", "java": "thermostat-java", "go": "thermostat-go"}
STEPS = {
    "install": "PolicyInstalled",
    "command": "CommandResult",
    "snapshot": "ObjectSummary",
    "lineage": "LineagePage",
}
SCHEMA: dict[str, Any] = json.loads(
    (CLIENTS / "schema" / "resident-object.schema.json").read_text()
)


@pytest.fixture(scope="session")
def client_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClientProgram]:
    """Each client built once per session, each in a clean folder; lazily, per language."""
    return {}


def program(
    language: str, built: dict[str, ClientProgram], tmp_path_factory: pytest.TempPathFactory
) -> ClientProgram:
    if language not in built:
        folder: Path = tmp_path_factory.mktemp(f"client-{language}")
        built[language] = BUILDERS[language](folder / "build")
    return built[language]


def matches(reply: Any, model: str) -> None:
    jsonschema.validate(reply, {"$ref": f"#/$defs/{model}", "$defs": SCHEMA["$defs"]})


@pytest.mark.parametrize("language", sorted(BUILDERS))
def test_a_client_installs_commands_reads_and_gets_a_refusal(
    language: str,
    host: ResidentHost,
    issuer: Issuer,
    client_programs: dict[str, ClientProgram],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    client = program(language, client_programs, tmp_path_factory)
    ops, sensor = issuer.token("ops", "ops", "viewer"), issuer.token("s-1", "sensor")
    env = {**host.sdk_env(), "POLICY": issuer.sign(example("thermostat"))}
    env.update(OPS_TOKEN=ops, SENSOR_TOKEN=sensor)

    steps = client.run(env)

    assert [s["step"] for s in steps] == [*STEPS, "refused"], steps
    replies = {s["step"]: s["reply"] for s in steps}
    object_id = OBJECT_IDS[language]
    assert replies["install"]["created"] is True
    assert replies["install"]["object"]["id"] == object_id
    assert replies["command"]["applied"] is True
    assert replies["command"]["result"] == "alarm"  # the overheat rule ran in the same turn
    snapshot = replies["snapshot"]
    assert snapshot["data"] == {"temperature": 41, "threshold": 30, "status": "alarm"}
    lineage = replies["lineage"]
    assert lineage["length"] == snapshot["lineage"]["length"] == len(lineage["entries"])
    assert lineage["head"] == snapshot["lineage"]["head"]
    assert [e["seq"] for e in lineage["entries"]] == list(range(1, lineage["length"] + 1))
    refusal = replies["refused"]["error"]
    assert refusal["code"] == "forbidden"
    assert "report" in refusal["message"] or "permission" in refusal["message"]
    for step, model in STEPS.items():
        matches(replies[step], model)
    matches({"error": refusal}, "ErrorEnvelope")
    # The object the SDK made is the one the HTTP API serves.
    assert host.show(object_id, ops)["lineage"]["head"] == lineage["head"]
