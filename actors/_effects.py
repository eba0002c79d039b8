"""Effects that leave the object: kept in an outbox, delivered after the turn commits.

An effect is written to the outbox in the same transaction as the change that caused it, so a
crash can delay it but never lose it. Each carries an id derived from its lineage entry; the
receiver de-duplicates by it (delivery is at-least-once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ._sidecar import SidecarClient, SidecarError
from ._trace import outgoing

log = logging.getLogger("resident.effects")

EFFECT_ID_HEADER = "resident-effect-id"


def outbox_items(
    entry: Mapping[str, Any], effects: Sequence[Mapping[str, Any]], *, default_pubsub: str
) -> list[dict[str, Any]]:
    """Outbox records for a lineage entry's admitted effects, ids `<entry id>.<index>`."""
    items = []
    trace = outgoing().get("traceparent")
    for index, effect in enumerate(effects):
        item = {**effect, "id": f"{entry['id']}.{index}", "seq": entry["seq"], "attempts": 0}
        if trace:
            item["traceparent"] = trace  # the producing turn's trace, kept across retries
        if item.get("kind") == "publish" and not item.get("pubsub"):
            item["pubsub"] = default_pubsub
        items.append(item)
    return items


def cloud_event(item: Mapping[str, Any], *, object_id: str, host_id: str) -> dict[str, Any]:
    """A CloudEvent 1.0 whose id is the effect's, so subscribers can de-duplicate."""
    event = {
        "specversion": "1.0",
        "id": item["id"],
        "source": f"resident://{host_id}/{object_id}",
        "type": "resident.publish",
        "subject": object_id,
        "datacontenttype": "application/json",
        "data": item.get("data"),
    }
    if item.get("traceparent"):
        event["traceparent"] = event["traceid"] = item["traceparent"]
    return event


async def deliver_one(
    client: SidecarClient, item: Mapping[str, Any], *, object_id: str, host_id: str
) -> None:
    kind = item.get("kind")
    if kind == "publish":
        event = cloud_event(item, object_id=object_id, host_id=host_id)
        await client.publish(str(item["pubsub"]), str(item["topic"]), event)
    elif kind == "invoke_binding":
        metadata = {str(k): str(v) for k, v in (item.get("metadata") or {}).items()}
        metadata.setdefault(EFFECT_ID_HEADER, str(item["id"]))
        await client.invoke_binding(
            str(item["name"]), str(item.get("operation") or "create"), item.get("data"), metadata
        )
    elif kind == "invoke_service":
        headers = {EFFECT_ID_HEADER: str(item["id"])}
        await client.invoke_service(
            str(item["app_id"]), str(item["method"]), item.get("data"), headers
        )
    else:
        raise ValueError(f"unknown effect kind {kind!r}")


async def deliver(
    client: SidecarClient,
    items: Sequence[Mapping[str, Any]],
    *,
    object_id: str,
    host_id: str,
) -> list[dict[str, Any]]:
    """Try every pending item in order; return those still pending (attempts counted)."""
    pending: list[dict[str, Any]] = []
    for item in items:
        try:
            await deliver_one(client, item, object_id=object_id, host_id=host_id)
        except (SidecarError, ValueError) as exc:
            log.warning(
                "effect not delivered",
                extra={"object_id": object_id, "effect_id": item.get("id"), "error": str(exc)},
            )
            pending.append({**item, "attempts": int(item.get("attempts", 0)) + 1})
    return pending
