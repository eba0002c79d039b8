"""Operability: trace context flows into published events; logs are JSON with object ids."""

from __future__ import annotations

import json

from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import eventually

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_commands_trace_context_reaches_the_events_it_publishes(
    host: ResidentHost, issuer: Issuer
) -> None:
    ops, sensor = issuer.token("ops", "ops", "viewer"), issuer.token("s", "sensor")
    assert host.put_policy("thermostat-trace", issuer.sign(example("thermostat")), ops).is_success

    response = host.call(
        "POST",
        "/objects/thermostat-trace/commands/report",
        sensor,
        json={"temperature": 50},
        headers={"traceparent": TRACEPARENT},
    )

    assert response.status_code == 200, response.text
    messages = eventually(
        lambda: [m for m in host.published("alerts") if "thermostat-trace" in json.dumps(m)]
    )
    # Same trace: daprd records its publish as a child span, so only the span id may differ.
    trace_id = TRACEPARENT.split("-")[1]
    assert messages[0]["traceparent"].split("-")[1] == trace_id, messages[0]


def test_logs_are_json_lines_naming_the_object(host: ResidentHost, issuer: Issuer) -> None:
    host.command("thermostat-nothing-here", "report", issuer.token("s", "sensor"), temperature=1)

    def refusal_logged() -> list[dict[str, object]]:
        lines = [line for line in host.logs().splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        return [r for r in records if r.get("object_id") == "thermostat-nothing-here"]

    record = eventually(refusal_logged)[0]
    assert record["code"] == "not_found"
    assert record["level"] == "info"


def _sample(text: str, name: str) -> float:
    """Sum of a metric's samples in Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_commands_cycles_and_denials(host: ResidentHost, issuer: Issuer) -> None:
    ops, sensor = issuer.token("ops", "ops", "viewer"), issuer.token("s", "sensor")
    policy = example("thermostat", evaluation={"every": "1s", "on_change": False})
    assert host.put_policy("thermostat-metrics", issuer.sign(policy), ops).is_success
    host.command("thermostat-metrics", "report", sensor, temperature=45)
    host.command("thermostat-metrics", "report", issuer.token("v", "viewer"), temperature=45)

    def scraped() -> str:
        text = host.http.get("/metrics").text
        return text if _sample(text, "resident_cycles_total") >= 1 else ""

    text = eventually(scraped, timeout=10)
    assert _sample(text, 'resident_command_seconds_count{outcome="ok"}') >= 1
    assert _sample(text, 'resident_refusals_total{code="forbidden",method="command"}') >= 1
    assert _sample(text, 'resident_actions_total{decision="admitted",kind="set"}') >= 1
    assert "resident_outbox_depth" in text
    assert "resident_reminder_lag_seconds_bucket" in text
