"""A Resident host (the real app under uvicorn + localdapr) and token issuers, for e2e tests."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from app.hostkey import ensure_host_key
from policies import SigningKey, generate_key, sign_policy, sign_token
from tests.contract.pair import SidecarPair
from tests.e2e.subscriber import Subscriber
from tests.realdapr import ControlPlane, Daprd, Sidecar
from tests.support import ROOT

EXAMPLES = ROOT / "policies" / "examples"


@dataclass
class Issuer:
    """Someone who signs policies and caller tokens."""

    name: str
    key: SigningKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = generate_key(kid=f"{self.name}-key", issuer=self.name)

    def token(self, sub: str, *roles: str, ttl: int = 3600, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.name, "sub": sub, "roles": list(roles), "iat": now, "exp": now + ttl}
        return sign_token({**body, **claims}, self.key)

    def sign(self, document: dict[str, Any]) -> str:
        return sign_policy({"iss": self.name, "iat": int(time.time()), **document}, self.key)


def example(name: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    document.pop("iss", None)
    document.update(overrides)
    return document


class ResidentHost(SidecarPair):
    """One host: its own app, localdapr, SQLite, trust file, settings and API tokens."""

    def __init__(
        self,
        workdir: Path,
        *,
        trusted: list[Issuer],
        host_id: str = "host-a",
        limits: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        resources_path: Path | None = None,
        broker_db: Path | None = None,
        sidecar: Sidecar | str = "localdapr",
        observe: Sequence[str] = (),
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        trust = workdir / "trust.jwks.json"
        trust.write_text(json.dumps({"keys": [i.key.public_jwk for i in trusted]}))
        api_token, app_token = secrets.token_hex(16), secrets.token_hex(16)
        app_env = {
            "RESIDENT_TRUST": str(trust),
            "RESIDENT_HOME": str(workdir),
            "RESIDENT_HOST_ID": host_id,
            "RESIDENT_GENERATE_HOST_KEY": "true",
            "APP_API_TOKEN": app_token,
        }
        if limits is not None:
            app_env["RESIDENT_HOST_LIMITS"] = yaml.safe_dump(limits)
        app_env["RESIDENT_COMMAND_RATE"] = "0"  # tests of the limit set their own
        app_env.update(env or {})
        super().__init__(
            "app.main:app",
            workdir,
            app_id="resident",
            app_env=app_env,
            sidecar_env={"DAPR_API_TOKEN": api_token, "APP_API_TOKEN": app_token},
            resources_path=resources_path or ROOT / "components",
            broker_db=broker_db,
            sidecar=sidecar,
        )
        self.app_token = app_token
        self.http = httpx.Client(base_url=self.app_url, timeout=30.0)
        self.observe = tuple(observe)
        self.subscriber: Subscriber | None = None

    def call(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kwargs)

    def put_policy(self, object_id: str, jws: str, token: str) -> httpx.Response:
        headers = {"content-type": "application/jose"}
        return self.call("PUT", f"/objects/{object_id}/policy", token, content=jws, headers=headers)

    def command(self, object_id: str, name: str, token: str, **params: Any) -> httpx.Response:
        return self.call("POST", f"/objects/{object_id}/commands/{name}", token, json=params)

    def show(self, object_id: str, token: str) -> dict[str, Any]:
        response = self.call("GET", f"/objects/{object_id}", token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def entries(self, object_id: str, token: str) -> list[dict[str, Any]]:
        response = self.call("GET", f"/objects/{object_id}/lineage?limit=1000", token)
        assert response.status_code == 200, response.text
        entries: list[dict[str, Any]] = response.json()["entries"]
        return entries

    def start(self) -> ResidentHost:
        super().start()
        if self.observe:
            self.subscriber = Subscriber(
                self.workdir / "observer", join=self, topics=self.observe, app_id="observer"
            ).start()
        return self

    def published(self, topic: str) -> list[dict[str, Any]]:
        """What reached pub/sub on `topic`, as a separate subscriber app received it."""
        if self.subscriber is None:
            raise ValueError("start the host with observe=[topics] to see what it publishes")
        return self.subscriber.received(topic)

    def stop(self) -> None:
        self.http.close()
        if self.subscriber is not None:
            self.subscriber.stop()
        super().stop()


@contextlib.contextmanager
def replica_set(
    workdir: Path,
    issuer: Issuer,
    count: int,
    *,
    env: dict[str, str] | None = None,
    redis_persistence: bool = False,
    observe: Sequence[str] = (),
) -> Iterator[tuple[ControlPlane, list[ResidentHost]]]:
    """`count` replicas of one host on real Dapr, as a Deployment runs them: one control plane
    (Redis, placement, scheduler), app id `resident`, one shared host key; each replica is an
    app + its daprd. The first replica observes `observe` topics. All are stopped on exit."""
    control = ControlPlane(workdir / "control", redis_persistence=redis_persistence).start()
    key = workdir / "host-key.pem"
    ensure_host_key(key, generate=True)
    shared = {"RESIDENT_HOST_KEY": str(key), "RESIDENT_GENERATE_HOST_KEY": "false", **(env or {})}
    replicas = [
        ResidentHost(
            workdir / f"replica-{n}",
            trusted=[issuer],
            host_id="resident",
            env=shared,
            sidecar=Daprd(control),
            observe=observe if n == 0 else (),
        )
        for n in range(count)
    ]
    try:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda r: r.start(), replicas))
        yield control, replicas
    finally:
        for replica in replicas:
            replica.stop()
        control.stop()
