"""The Kubernetes manifest holds together: what the sidecar injector does not do for the app,
the manifest does (tokens, Redis address, body size, resiliency)."""

from __future__ import annotations

from typing import Any

import yaml

from app.settings import Settings
from tests.support import ROOT

MANIFEST = ROOT / "deploy" / "kubernetes.yaml"


def documents() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def app_container() -> tuple[dict[str, str], dict[str, Any]]:
    pod = documents()[("Deployment", "resident")]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    return pod["metadata"]["annotations"], container


def test_the_app_container_gets_both_tokens_from_the_secrets_daprd_gets() -> None:
    annotations, container = app_container()
    env = {e["name"]: e for e in container["env"]}
    for variable, annotation in (
        ("DAPR_API_TOKEN", "dapr.io/api-token-secret"),
        ("APP_API_TOKEN", "dapr.io/app-token-secret"),
    ):
        secret = env[variable]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": annotations[annotation], "key": "token"}
        assert ("Secret", secret["name"]) in documents()


def test_components_name_redis_by_service_and_the_actor_store_is_set() -> None:
    docs = documents()
    for name in ("statestore", "pubsub"):
        metadata = {m["name"]: m for m in docs[("Component", name)]["spec"]["metadata"]}
        assert "localhost" not in metadata["redisHost"]["value"]
        assert "secretKeyRef" in metadata["redisPassword"]
    store = {m["name"]: m for m in docs[("Component", "statestore")]["spec"]["metadata"]}
    assert store["actorStateStore"]["value"] == "true"


def test_sidecar_body_limit_is_above_the_apps_and_turns_are_never_retried() -> None:
    annotations, container = app_container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    settings = Settings()
    app_limit = max(
        int(env.get("RESIDENT_MAX_BODY_BYTES") or settings.max_body_bytes),
        int(env.get("RESIDENT_MAX_BUNDLE_BYTES") or settings.max_bundle_bytes),
    )
    assert int(annotations["dapr.io/http-max-request-size"]) * 1024 * 1024 > app_limit
    resiliency = documents()[("Resiliency", "resident-resiliency")]["spec"]
    assert "actors" not in resiliency.get("targets", {})
    config = annotations["dapr.io/config"]
    assert ("Configuration", config) in documents()


def test_readiness_follows_the_sidecar_and_liveness_does_not() -> None:
    _, container = app_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
