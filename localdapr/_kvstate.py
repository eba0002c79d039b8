"""Key/value state API (`/v1.0/state/{store}...`) for every `state.*` component, as daprd serves it.

All stores live in localdapr's SQLite file (see `_kvtable`), whatever their declared type: an
app sees the documented Dapr behaviour (ETags, first-write, TTL, all-or-nothing transactions),
not the quirks of one backing store. Keys are prefixed as daprd's `keyPrefix` metadata says
(default: the app id), so two apps sharing a database file do not collide.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._components import Component, load_resources
from ._config import SidecarConfig
from ._errors import JSON, DaprError, read_json
from ._httputil import query_metadata
from ._kvtable import Delete, ETagMismatchError, KvTable, Operation, Upsert
from ._store import open_db
from ._subsystem import SidecarContext

log = logging.getLogger("localdapr.state")

MALFORMED = "ERR_MALFORMED_REQUEST"
_CONCURRENCY = ("", "first-write", "last-write")


@dataclass(frozen=True, slots=True)
class _Store:
    """A state component and the prefix its keys get (daprd's `keyPrefix`)."""

    component: Component
    prefix: str

    def key(self, key: str) -> str:
        # daprd refuses the separator in every store, `keyPrefix: none` included.
        if "||" in key:
            raise DaprError(400, MALFORMED, f"input key/keyPrefix {key!r} can't contain '||'")
        return f"{self.prefix}||{key}" if self.prefix else key

    def original(self, stored: str) -> str:
        return stored.split("||", 1)[1] if self.prefix else stored


class _StoreRefusedError(ValueError):
    """The store (not the API) refuses an item: daprd answers these with a 500 from the
    store call (ERR_STATE_SAVE / ERR_STATE_TRANSACTION), not a malformed-request 400."""


def _prefix(component: Component, app_id: str) -> str:
    mode = component.metadata.get("keyPrefix", "appid")
    return {"appid": app_id, "none": "", "name": component.name}.get(mode.lower(), mode)


class KeyValueStateSubsystem:
    """Save, get, delete, bulk get and transactions over the configured state stores."""

    name = "state"

    def __init__(self, config: SidecarConfig) -> None:
        self._config = config
        self._stores: dict[str, _Store] = {}
        self._kv: KvTable | None = None

    # -- Subsystem --------------------------------------------------------------------

    async def start(self, ctx: SidecarContext) -> None:
        res = load_resources(self._config.resources_path, app_id=self._config.app_id)
        self._stores = {
            c.name: _Store(c, _prefix(c, self._config.app_id)) for c in res.of_family("state")
        }
        self._kv = KvTable(open_db(self._config.db_path))
        self._kv.purge_expired()

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        return None

    async def close(self) -> None:
        if self._kv is not None:
            self._kv.close()
            self._kv = None

    def metadata(self) -> dict[str, Any]:
        return {"components": [_describe(s.component) for s in self._stores.values()]}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1.0/state/{store}", self.save, methods=["POST", "PUT"]),
            Route("/v1.0/state/{store}/bulk", self.bulk_get, methods=["POST", "PUT"]),
            Route("/v1.0/state/{store}/transaction", self.transaction, methods=["POST", "PUT"]),
            Route("/v1.0/state/{store}/{key:path}", self.get, methods=["GET"]),
            Route("/v1.0/state/{store}/{key:path}", self.delete, methods=["DELETE"]),
        ]

    # -- handlers ---------------------------------------------------------------------

    async def save(self, request: Request) -> Response:
        store = self._store(request)
        items = await read_json(request)
        if not isinstance(items, list):
            raise DaprError(400, MALFORMED, "body must be a JSON array of state items")
        meta = query_metadata(request)
        prefix = f"failed saving state in state store {store.component.name}"
        try:
            ops: list[Operation] = [_upsert(store, item, meta) for item in items]
        except _StoreRefusedError as exc:
            raise DaprError(500, "ERR_STATE_SAVE", f"{prefix}: {exc}") from exc
        # Like daprd's bulk set, each item is saved on its own: one stale etag does not undo
        # the others; the first failure is the answer.
        failure: ETagMismatchError | None = None
        for op in ops:
            try:
                self._table().apply(store.component.name, [op])
            except ETagMismatchError as exc:
                failure = failure or exc
        if failure is not None:
            raise DaprError(409, "ERR_STATE_SAVE", f"{prefix}: {failure}") from failure
        return Response(status_code=204)

    async def get(self, request: Request) -> Response:
        store = self._store(request)
        key = request.path_params["key"]
        item = self._table().get(store.component.name, store.key(key))
        if item is None:
            return Response(status_code=204)
        headers = {"ETag": item.etag}
        if item.expires_at is not None:
            expiry = datetime.fromtimestamp(item.expires_at, UTC)
            headers["metadata.ttlExpireTime"] = expiry.isoformat().replace("+00:00", "Z")
        return Response(item.value, headers=headers, media_type=JSON)

    async def delete(self, request: Request) -> Response:
        store = self._store(request)
        key = request.path_params["key"]
        etag = request.headers.get("if-match") or None
        try:
            self._table().apply(store.component.name, [Delete(store.key(key), etag)])
        except ETagMismatchError as exc:
            msg = f"failed deleting state with key {key}: {exc}"
            raise DaprError(409, "ERR_STATE_DELETE", msg) from exc
        return Response(status_code=204)

    async def bulk_get(self, request: Request) -> Response:
        store = self._store(request)
        body = await read_json(request)
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise DaprError(400, MALFORMED, 'body must be {"keys": [<string>, ...]}')
        found: list[dict[str, Any]] = []
        for key in keys:
            item = self._table().get(store.component.name, store.key(key))
            entry: dict[str, Any] = {"key": key}
            if item is not None:
                entry["data"] = json.loads(item.value)
                entry["etag"] = item.etag
            found.append(entry)
        return Response(json.dumps(found).encode(), media_type=JSON)

    async def transaction(self, request: Request) -> Response:
        store = self._store(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("operations", []), list):
            raise DaprError(400, MALFORMED, 'body must be {"operations": [...], "metadata": {}}')
        meta = {**_str_map(body.get("metadata"), "metadata"), **query_metadata(request)}
        try:
            ops = [_transaction_op(store, op, meta) for op in body.get("operations") or []]
            self._table().apply(store.component.name, ops)
        except (ETagMismatchError, _StoreRefusedError) as exc:
            msg = f"error while executing state transaction: {exc}"
            raise DaprError(500, "ERR_STATE_TRANSACTION", msg) from exc
        return Response(status_code=204)

    # -- helpers ----------------------------------------------------------------------

    def _store(self, request: Request) -> _Store:
        name = request.path_params["store"]
        if not self._stores:
            raise DaprError(
                500, "ERR_STATE_STORE_NOT_CONFIGURED", f"state store {name} is not configured"
            )
        store = self._stores.get(name)
        if store is None:
            raise DaprError(400, "ERR_STATE_STORE_NOT_FOUND", f"state store {name} is not found")
        return store

    def _table(self) -> KvTable:
        if self._kv is None:
            raise DaprError(500, "ERR_STATE_STORE_NOT_CONFIGURED", "state API is not started")
        return self._kv


def _describe(component: Component) -> dict[str, Any]:
    caps = ["ETAG", "TRANSACTIONAL", "TTL"]
    if component.metadata.get("actorStateStore", "").lower() == "true":
        caps.append("ACTOR")
    return {
        "name": component.name,
        "type": component.type,
        "version": component.version,
        "capabilities": caps,
    }


def _transaction_op(store: _Store, raw: object, meta: dict[str, str]) -> Operation:
    if not isinstance(raw, dict):
        raise DaprError(400, MALFORMED, "each operation must be an object")
    kind = raw.get("operation")
    if kind == "upsert":
        return _upsert(store, raw.get("request"), meta)
    if kind == "delete":
        request = raw.get("request")
        if not isinstance(request, dict):
            raise DaprError(400, MALFORMED, "operation request must be an object")
        # daprd passes a delete without a key to the store, which deletes nothing.
        key = request.get("key")
        if not isinstance(key, str):
            key = ""
        return Delete(store.key(key), _etag(request))
    raise DaprError(
        400, "ERR_NOT_SUPPORTED_STATE_OPERATION", f"operation type {kind} not supported"
    )


def _upsert(store: _Store, raw: object, meta: dict[str, str]) -> Upsert:
    """One state item (`{key, value, etag, metadata, options}`) as an Upsert, or a 400."""
    if not isinstance(raw, dict):
        raise DaprError(400, MALFORMED, "each state item must be an object")
    options = raw.get("options") or {}
    concurrency = (options.get("concurrency") or "") if isinstance(options, dict) else options
    if concurrency not in _CONCURRENCY:
        raise _StoreRefusedError(f"unrecognized concurrency model {concurrency!r}")
    item_meta = {**_str_map(raw.get("metadata"), "metadata"), **meta}
    value = json.dumps(raw.get("value"), separators=(",", ":"), ensure_ascii=False)
    return Upsert(
        key=store.key(_key(raw)),
        value=value.encode(),
        etag=_etag(raw),
        first_write=concurrency == "first-write",
        ttl_seconds=_ttl(item_meta),
    )


def _key(raw: dict[str, Any]) -> str:
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise DaprError(400, MALFORMED, '"key" is a required field')
    return key


def _etag(raw: dict[str, Any]) -> str | None:
    etag = raw.get("etag")
    if etag is not None and not isinstance(etag, str):
        raise DaprError(400, MALFORMED, f"etag must be a string, got {etag!r}")
    return etag or None


def _str_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DaprError(400, MALFORMED, f"{what} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def _ttl(meta: dict[str, str]) -> int | None:
    """`ttlInSeconds`: an integer; -1 (or absent) means the item never expires."""
    raw = meta.get("ttlInSeconds")
    if raw is None or raw == "":
        return None
    why = "error parsing TTL: incorrect value for metadata 'ttlInSeconds'"
    try:
        ttl = int(raw)
    except ValueError:
        raise _StoreRefusedError(f"{why}: {raw!r} is not an integer") from None
    if ttl < -1:
        raise _StoreRefusedError(f"{why}: {ttl} is below -1")
    return None if ttl == -1 else ttl
