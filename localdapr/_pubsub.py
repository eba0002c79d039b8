"""Pub/sub API (`POST /v1.0/publish/{pubsub}/{topic}`) for every `pubsub.*` component.

Publishing appends the CloudEvent to the broker (`_pubsubstore`, SQLite) and answers 204 at
once. The broker file may be shared by the sidecars of several apps (`--broker-db`), as their
daprds would share one Redis: each sidecar's dispatcher (`_delivery`) delivers every message
to its OWN app's matching subscriptions, programmatic (the app's `GET /dapr/subscribe`) and
declarative (`Subscription` YAMLs in scope), once per app id. All pub/sub components share one
durable stream whatever their declared type: apps see Dapr's delivery semantics, not one
broker's.

`GET /v1.0-alpha1/localdapr/published` is NOT a Dapr API: it lets tests see what was
published to the broker, with the CloudEvent ids and each app's delivery status, even when
nothing subscribes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sqlite3
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._cloudevents import CloudEventError, envelope
from ._components import Component, Subscription, load_resources, subscription_from
from ._config import SidecarConfig
from ._delivery import ActiveSubscription, DeliverySettings, Dispatcher
from ._errors import JSON, DaprError
from ._httputil import query_metadata
from ._pubsubstore import Message, PubSubStore
from ._store import open_db
from ._subsystem import SidecarContext

log = logging.getLogger("localdapr.pubsub")

_BOOL = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}


class PubSubSubsystem:
    """Durable publish, at-least-once delivery with retries and dead-letter topics."""

    name = "pubsub"

    def __init__(self, config: SidecarConfig, *, settings: DeliverySettings | None = None) -> None:
        self._config = config
        self._settings = settings or DeliverySettings.from_env()
        self._pubsubs: dict[str, Component] = {}
        self._declarative: list[Subscription] = []
        self._active: dict[str, ActiveSubscription] = {}
        self._ready = False
        self._db: PubSubStore | None = None
        self._dispatcher: Dispatcher | None = None
        self._runner: asyncio.Task[None] | None = None

    # -- Subsystem --------------------------------------------------------------------

    async def start(self, ctx: SidecarContext) -> None:
        res = load_resources(self._config.resources_path, app_id=self._config.app_id)
        self._pubsubs = {c.name: c for c in res.of_family("pubsub")}
        self._declarative = list(res.subscriptions)
        self._db = PubSubStore(open_db(self._config.broker_path), app_id=self._config.app_id)

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        """Learn the subscriptions, join their consumer groups, start delivering."""
        programmatic = []
        for raw in ctx.app_subscriptions:
            try:
                programmatic.append(subscription_from(raw, kind="PROGRAMMATIC"))
            except (ValueError, TypeError, AttributeError) as exc:
                log.error("ignoring subscription %r from /dapr/subscribe: %s", raw, exc)
        self._active = _activate([*programmatic, *self._declarative], set(self._pubsubs))
        dispatcher = Dispatcher(
            self._store(),
            ctx.app,
            self._active,
            settings=self._settings,
            dead_letter=self._dead_letter,
        )
        dispatcher.prepare()
        self._ready = True
        self._dispatcher = dispatcher
        self._runner = asyncio.create_task(dispatcher.run(), name="localdapr-pubsub")
        log.info(
            "pub/sub: %d subscriptions as app %r, broker %s",
            len(self._active),
            self._config.app_id,
            self._config.broker_path,
        )

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._dispatcher is not None:
            await self._dispatcher.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    def metadata(self) -> dict[str, Any]:
        subs = [a.sub for a in self._active.values()] if self._ready else self._declarative
        return {
            "components": [
                {"name": c.name, "type": c.type, "version": c.version, "capabilities": []}
                for c in self._pubsubs.values()
            ],
            "subscriptions": [s.describe() for s in subs],
        }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1.0/publish/{pubsub}/{topic:path}", self.publish, methods=["POST", "PUT"]),
            Route("/v1.0-alpha1/localdapr/published", self.published, methods=["GET"]),
        ]

    # -- handlers ---------------------------------------------------------------------

    async def publish(self, request: Request) -> Response:
        pubsub = request.path_params["pubsub"]
        topic = request.path_params.get("topic", "")
        self._check(pubsub, topic)
        meta = query_metadata(request)
        raw = _raw_payload(meta)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        event_id: str | None = str(uuid.uuid4())
        if not raw:
            try:
                event = envelope(
                    body,
                    content_type=content_type,
                    topic=topic,
                    pubsub=pubsub,
                    source=self._config.app_id,
                    metadata=meta,
                )
            except CloudEventError as exc:
                # daprd: 500 "cannot create cloudevent" for a body it cannot wrap.
                raise DaprError(500, "ERR_PUBSUB_CLOUD_EVENTS_SER", str(exc)) from exc
            event_id = None if event.get("id") is None else str(event["id"])
            body = json.dumps(event).encode()
        self._enqueue(Message(0, pubsub, topic, event_id, content_type, body, raw))
        return Response(status_code=204)

    async def published(self, request: Request) -> Response:
        pubsub = request.query_params.get("pubsub") or None
        topic = request.query_params.get("topic") or None
        rows = self._store().listing(pubsub=pubsub, topic=topic)
        for row in rows:
            data = row.pop("data")
            if row["rawPayload"]:
                row["data_base64"] = base64.b64encode(data).decode()
            else:
                row["event"] = json.loads(data)
        return Response(json.dumps(rows).encode(), media_type=JSON)

    # -- helpers ----------------------------------------------------------------------

    def _check(self, pubsub: str, topic: str) -> None:
        if not self._pubsubs:
            raise DaprError(400, "ERR_PUBSUB_NOT_CONFIGURED", f"pubsub {pubsub} is not configured")
        if pubsub not in self._pubsubs:
            raise DaprError(404, "ERR_PUBSUB_NOT_FOUND", f"pubsub {pubsub} is not found")
        if not topic:
            raise DaprError(404, "ERR_TOPIC_NAME_EMPTY", f"topic is empty in pubsub {pubsub}")

    def _enqueue(self, msg: Message) -> None:
        """Append to the broker, then wake our dispatcher (other sidecars find it by polling)."""
        try:
            self._store().add(msg, publisher=self._config.app_id)
        except sqlite3.Error as exc:
            msg_text = f"error when publishing to topic {msg.topic} in pubsub {msg.pubsub}: {exc}"
            raise DaprError(500, "ERR_PUBSUB_PUBLISH_MESSAGE", msg_text) from exc
        if self._dispatcher is not None:
            self._dispatcher.published()

    def _dead_letter(self, msg: Message, topic: str) -> None:
        """Publish the undeliverable message, unchanged, to the dead-letter topic."""
        self._enqueue(
            Message(0, msg.pubsub, topic, msg.event_id, msg.content_type, msg.data, msg.raw)
        )

    def _store(self) -> PubSubStore:
        if self._db is None:
            raise DaprError(500, "ERR_PUBSUB_NOT_CONFIGURED", "pub/sub API is not started")
        return self._db


def _raw_payload(meta: dict[str, str]) -> bool:
    value = meta.get("rawPayload", "")
    if not value:
        return False
    parsed = _BOOL.get(value.lower())
    if parsed is None:
        msg = f"failed deserializing metadata. Error: rawPayload {value!r} is not a boolean"
        raise DaprError(400, "ERR_PUBSUB_REQUEST_METADATA", msg)
    return parsed


def _activate(subs: list[Subscription], pubsubs: set[str]) -> dict[str, ActiveSubscription]:
    """One subscription per (pubsub, topic), the first one winning, as daprd allows one."""
    active: dict[str, ActiveSubscription] = {}
    for sub in subs:
        if sub.pubsubname not in pubsubs:
            log.error("subscription to %s/%s: no such pubsub component", sub.pubsubname, sub.topic)
            continue
        try:
            candidate = ActiveSubscription(sub)
        except ValueError as exc:
            log.error("subscription to %s/%s: bad routing rule: %s", sub.pubsubname, sub.topic, exc)
            continue
        if candidate.key in active:
            log.warning("duplicate subscription to %s ignored (%s)", candidate.key, sub.kind)
            continue
        active[candidate.key] = candidate
    return active
