"""Schemathesis against the service's own OpenAPI: no input makes it fail with a 5xx, and
every refusal of the Resident API is an `application/problem+json` body with a `code`."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from app.main import create_app
from app.settings import Settings
from tests.e2e.hosts import Issuer, ResidentHost

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
SIDECAR_PROTOCOL = ("/actors", "/dapr/", "/healthz")


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_causes_a_server_error(
    case: schemathesis.Case, host: ResidentHost, issuer: Issuer
) -> None:
    token = issuer.token("ops", "ops", "viewer", "sensor")
    case.headers = {**(case.headers or {}), "authorization": f"Bearer {token}"}
    response = case.call(base_url=host.app_url, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400 and not case.path.startswith(SIDECAR_PROTOCOL):
        assert response.headers["content-type"][0].startswith("application/problem+json")
        assert response.json()["code"]
