"""Pub/sub messages as workflow events: Dapr's subscription contract, routed to objects.

Dapr reads `GET /dapr/subscribe` once, when the app starts, so the topics are host settings
(`RESIDENT_SUBSCRIPTIONS`), not something learnt from policies installed later. Each message
is routed to the object its data names (`data.object_id`) as a `Deliver` actor call through
the sidecar, so it takes that object's turn lock; the object's own `subscribe` entry then
decides whether the message is an event for it. Both routes sit under `/dapr/`, which the
`SidecarTokenGuard` keeps for callers holding the sidecar's APP_API_TOKEN.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request

from actors import MARK_FIELD, ResidentError, mark
from policies import PolicyError

from ..bodies import parse_json, read_body
from ..deps import InputsDep, ObjectsDep, SettingsDep
from ..errors import ApiError

log = logging.getLogger("resident.events")

router = APIRouter(prefix="/dapr", tags=["dapr"])

Verdict = Literal["SUCCESS", "RETRY", "DROP"]
# Refusals the object decided are final: redelivering the same message cannot change them.
RETRYABLE = frozenset({"unavailable"})


def route_of(pubsub: str, topic: str) -> str:
    return f"/dapr/events/{pubsub}/{topic}"


@router.get("/subscribe", summary="The topics this host routes to objects (read by Dapr)")
async def subscribe(settings: SettingsDep) -> list[dict[str, str]]:
    return [
        {"pubsubname": pubsub, "topic": topic, "route": route_of(pubsub, topic)}
        for pubsub, topic in settings.subscription_topics()
    ]


def _object_id(event: Any) -> str | None:
    data = event.get("data") if isinstance(event, dict) else None
    object_id = data.get("object_id") if isinstance(data, dict) else None
    return object_id if isinstance(object_id, str) and object_id else None


@router.post("/events/{pubsub}/{topic}", summary="Deliver one message to the object it names")
async def deliver(
    pubsub: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$")],
    topic: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]+$")],
    request: Request,
    objects: ObjectsDep,
    settings: SettingsDep,
    inputs: InputsDep,
) -> dict[str, Verdict]:
    """Answer SUCCESS when the object took the event, DROP when it refused it (the refusal
    is in its lineage) or when the message is not JSON within the host's body size and depth
    limits (redelivery cannot fix it), RETRY when the object could not be reached."""
    try:
        raw = await read_body(
            request,
            limit=settings.max_body_bytes,
            code="body_too_large",
            setting="RESIDENT_MAX_BODY_BYTES",
        )
        event = parse_json(raw, inputs, what="message", code="invalid_request", envelope=True)
    except (ApiError, PolicyError) as exc:
        log.warning("dropping a message on %s/%s: %s", pubsub, topic, exc)
        return {"status": "DROP"}
    object_id = _object_id(event)
    if object_id is None:
        log.warning("dropping a message on %s/%s without data.object_id", pubsub, topic)
        return {"status": "DROP"}
    body = {"pubsub": pubsub, "topic": topic, "event": event}
    body[MARK_FIELD] = mark(request.app.state.delivery_key, pubsub=pubsub, topic=topic, event=event)
    try:
        result = await objects.call(object_id, "Deliver", body)
    except ResidentError as exc:
        log.info("message for %s not delivered: %s", object_id, exc)
        return {"status": "RETRY" if exc.code in RETRYABLE else "DROP"}
    if result.get("ignored"):  # a redelivery or a replay of old news: acknowledge it
        return {"status": "SUCCESS"}
    return {"status": "SUCCESS" if result.get("accepted") else "DROP"}
