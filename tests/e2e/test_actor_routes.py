"""The app's actor routes answer the sidecar exactly as `dapr.ext.fastapi.DaprActor` does,
whether a call takes the direct fast path (methods, reminders) or DaprActor's own routes."""

from __future__ import annotations

import json

import httpx

from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import eventually


def sidecar_call(host: ResidentHost, path: str, body: object) -> httpx.Response:
    headers = {"dapr-api-token": host.app_token, "content-type": "application/json"}
    return host.http.put(path, content=json.dumps(body), headers=headers)


def test_a_method_call_returns_the_methods_json(host: ResidentHost, issuer: Issuer) -> None:
    response = sidecar_call(
        host, "/actors/ResidentObject/nobody-1/method/Snapshot", {"token": issuer.token("x")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_a_reminder_fire_is_acknowledged_like_daprd_expects(host: ResidentHost) -> None:
    body = {"data": "", "dueTime": "", "period": ""}
    response = sidecar_call(host, "/actors/ResidentObject/nobody-2/method/remind/evaluate", body)
    assert response.status_code == 200
    assert response.json() == {
        "message": "called reminder. actor: ResidentObject.nobody-2, reminder: evaluate"
    }


def test_an_unknown_method_is_the_sdks_500(host: ResidentHost) -> None:
    response = sidecar_call(host, "/actors/ResidentObject/nobody-3/method/NoSuchMethod", {})
    assert response.status_code == 500
    assert response.json()["errorCode"] == "UNKNOWN"


def test_other_actor_types_and_routes_still_reach_daprs_handlers(host: ResidentHost) -> None:
    unknown_type = sidecar_call(host, "/actors/SomethingElse/x/method/Snapshot", {})
    assert unknown_type.status_code == 500
    assert unknown_type.json()["errorCode"] == "UNKNOWN"
    config = host.http.get("/dapr/config", headers={"dapr-api-token": host.app_token})
    assert config.json()["entities"] == ["ResidentObject"]


def test_a_timer_registered_through_the_sidecar_cannot_run_actor_internals(
    host: ResidentHost, issuer: Issuer
) -> None:
    """Anyone holding the sidecar's API token can register a timer on any actor; the SDK's
    timer route would run `getattr(actor, callback)`: here, stop the object's cycles."""
    ops = issuer.token("ops", "ops", "viewer")
    policy = example("thermostat", evaluation={"every": "1s", "on_change": False})
    assert host.put_policy("thermostat-timer", issuer.sign(policy), ops).status_code == 201
    eventually(lambda: host.show("thermostat-timer", ops)["cycles"] >= 1, timeout=10)

    timer = {"callback": "unregister_reminder", "data": "evaluate", "dueTime": "0s"}
    registered = httpx.put(
        f"{host.dapr_url}/v1.0/actors/ResidentObject/thermostat-timer/timers/stop",
        json=timer,
        headers=host.token_headers(),
    )
    assert registered.status_code == 204, registered.text
    direct = sidecar_call(host, "/actors/ResidentObject/thermostat-timer/method/timer/stop", timer)
    assert direct.status_code == 404

    cycles = host.show("thermostat-timer", ops)["cycles"]
    eventually(lambda: host.show("thermostat-timer", ops)["cycles"] >= cycles + 3, timeout=10)
