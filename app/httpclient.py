"""The CLI's client for a running Resident host's HTTP API."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import httpx

from policies import LineageError, verify_lineage


class CliError(RuntimeError):
    """A CLI call failed; the message carries the host's problem code and detail."""


# Answers after which the same keyed request may simply be sent again.
RETRYABLE = frozenset({502, 503, 504})


class HostClient:
    def __init__(
        self,
        url: str,
        *,
        token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self.replayed = False  # whether the last keyed call was answered from the object's record

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"{method} {path}: {exc}") from exc
        return self._body(method, path, response)

    def _keyed_call(
        self, method: str, path: str, *, key: str, retries: int, backoff: float, **kwargs: Any
    ) -> Any:
        """One request under one idempotency key, re-sent on a lost or unavailable answer: the
        object applies it once and answers every retry with the first result."""
        headers = {**kwargs.pop("headers", {}), "idempotency-key": key}
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= retries:
                    raise CliError(f"{method} {path}: {exc} (idempotency key {key})") from exc
            else:
                if response.status_code not in RETRYABLE or attempt >= retries:
                    self.replayed = response.headers.get("idempotency-replayed") == "true"
                    return self._body(method, path, response)
            time.sleep(backoff * 2**attempt)
            attempt += 1

    @staticmethod
    def _body(method: str, path: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = f"{body.get('code')}: {body.get('detail')}"
            except ValueError:
                detail = response.text[:500]
            raise CliError(f"{method} {path} -> {response.status_code} {detail}")
        return response.json()

    @staticmethod
    def _obj(object_id: str) -> str:
        return "/objects/" + quote(object_id, safe="")

    def put_policy(self, object_id: str, jws: str) -> Any:
        headers = {"content-type": "application/jose"}
        return self._call("PUT", f"{self._obj(object_id)}/policy", content=jws, headers=headers)

    def command(
        self,
        object_id: str,
        name: str,
        params: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> Any:
        """Run a command under one key (fresh unless given), retried up to `retries` times."""
        path = f"{self._obj(object_id)}/commands/{quote(name, safe='')}"
        key = idempotency_key or uuid4().hex
        return self._keyed_call(
            "POST", path, key=key, retries=retries, backoff=backoff, json=params
        )

    def show(self, object_id: str) -> Any:
        return self._call("GET", self._obj(object_id))

    def lineage(self, object_id: str, *, after: int = 0, limit: int = 100) -> Any:
        params = {"after": after, "limit": limit}
        return self._call("GET", f"{self._obj(object_id)}/lineage", params=params)

    def all_entries(self, object_id: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        while True:
            page = self.lineage(object_id, after=len(entries), limit=1000)
            entries.extend(page["entries"])
            if not page["entries"] or len(entries) >= page["length"]:
                return entries

    def verify_lineage(self, object_id: str) -> dict[str, Any]:
        """Fetch the whole chain and check it offline against the object's current data."""
        snapshot = self.show(object_id)
        # Cycles may append after the snapshot: check the prefix the snapshot's data belongs to.
        entries = self.all_entries(object_id)[: snapshot["lineage"]["length"]]
        try:
            verify_lineage(entries, data=snapshot["data"])
        except LineageError as exc:
            return {"ok": False, "object": object_id, "entries": len(entries), "error": str(exc)}
        return {
            "ok": True,
            "object": object_id,
            "entries": len(entries),
            "head": entries[-1]["hash"],
        }

    def verify_history(self, object_id: str) -> dict[str, Any]:
        """The host's report: chain, entry signatures and replay (`/lineage/verify`)."""
        result: dict[str, Any] = self._call("GET", f"{self._obj(object_id)}/lineage/verify")
        return result

    def dry_run(
        self, object_id: str, *, policy: Any, command: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {"policy": policy, "command": command}
        result: dict[str, Any] = self._call("POST", f"{self._obj(object_id)}/dry-run", json=body)
        return result

    def export(self, object_id: str, *, move: bool = False, destination: str | None = None) -> Any:
        params: dict[str, Any] = {"move": "true" if move else "false"}
        if destination:
            params["destination"] = destination
        return self._call("POST", f"{self._obj(object_id)}/export", params=params)

    def import_bundle(self, bundle: dict[str, Any]) -> Any:
        path = f"{self._obj(str(bundle.get('object_id', '')))}/import"
        return self._call("POST", path, json=bundle)
