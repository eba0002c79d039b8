"""CloudEvent 1.0 envelopes exactly as daprd builds them for `POST /v1.0/publish`.

Three cases, as in dapr's `runtime/pubsub.NewCloudEvent` and components-contrib's envelope:
a body that already is a CloudEvent (`application/cloudevents+json`) is kept, id included, with
topic and pubsub overwritten and defaults filled in; any other body is wrapped, with
`metadata.cloudevent.<field>` query parameters overriding id, source, type, subject and trace
fields; `metadata.rawPayload=true` bodies are not wrapped at all.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

CLOUDEVENT_CONTENT_TYPE = "application/cloudevents+json"
DEFAULT_TYPE = "com.dapr.event.sent"
DEFAULT_SOURCE = "Dapr"
DEFAULT_DATA_CONTENT_TYPE = "text/plain"
_OVERRIDABLE = ("id", "source", "type", "subject", "traceid", "traceparent", "tracestate")


class CloudEventError(ValueError):
    """The body claims to be a CloudEvent but is not a JSON object; fix the publisher."""


def is_content_type(content_type: str, expected: str) -> bool:
    """Media-type comparison ignoring case and parameters, as components-contrib does it."""
    return content_type.split(";", 1)[0].strip().lower() == expected


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def envelope(
    body: bytes,
    *,
    content_type: str,
    topic: str,
    pubsub: str,
    source: str,
    metadata: dict[str, str],
) -> dict[str, Any]:
    """The CloudEvent daprd would publish for this request body."""
    if is_content_type(content_type, CLOUDEVENT_CONTENT_TYPE):
        event = from_cloud_event(body, topic=topic, pubsub=pubsub)
    else:
        event = _wrap(body, content_type, topic, pubsub, source, metadata)
    ttl = metadata.get("ttlInSeconds", "")
    if ttl.isdigit():
        expiry = datetime.now(UTC) + timedelta(seconds=int(ttl))
        event["expiration"] = expiry.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return event


def _wrap(
    body: bytes,
    content_type: str,
    topic: str,
    pubsub: str,
    source: str,
    metadata: dict[str, str],
) -> dict[str, Any]:
    overrides = {
        k.lower()[len("cloudevent.") :]: v
        for k, v in metadata.items()
        if k.lower().startswith("cloudevent.")
    }
    fields = {name: overrides.get(name, "") for name in _OVERRIDABLE}
    trace = fields["traceparent"] or fields["traceid"]
    data_content_type = content_type or DEFAULT_DATA_CONTENT_TYPE
    event: dict[str, Any] = {
        "id": fields["id"] or str(uuid.uuid4()),
        "specversion": "1.0",
        "datacontenttype": data_content_type,
        "source": fields["source"] or source or DEFAULT_SOURCE,
        "type": fields["type"] or DEFAULT_TYPE,
        "topic": topic,
        "pubsubname": pubsub,
        "traceid": trace,
        "traceparent": trace,
        "tracestate": fields["tracestate"],
        "time": _now(),
    }
    key, value = _data(body, data_content_type)
    event[key] = value
    if fields["subject"]:
        event["subject"] = fields["subject"]
    return event


def _data(body: bytes, content_type: str) -> tuple[str, Any]:
    """`data` as JSON for JSON types, `data_base64` for octet-stream, else text."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return "data", json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
    elif media == "application/octet-stream":
        return "data_base64", base64.b64encode(body).decode()
    return "data", body.decode("utf-8", errors="replace")


def from_cloud_event(body: bytes, *, topic: str, pubsub: str) -> dict[str, Any]:
    """A publisher's own CloudEvent, kept as sent (its `id` above all) with Dapr's fields set."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CloudEventError(f"body is not a JSON CloudEvent: {exc}") from exc
    if not isinstance(event, dict):
        raise CloudEventError("a CloudEvent must be a JSON object")
    event.setdefault("time", _now())
    if "traceid" not in event:
        event["traceid"] = ""
        event["traceparent"] = ""
    event.setdefault("tracestate", "")
    event["topic"] = topic
    event["pubsubname"] = pubsub
    for key, default in (
        ("source", DEFAULT_SOURCE),
        ("type", DEFAULT_TYPE),
        ("specversion", "1.0"),
    ):
        if event.get(key) is None:
            event[key] = default
    return event


def from_raw_payload(body: bytes, *, event_id: str, topic: str, pubsub: str) -> dict[str, Any]:
    """What a `rawPayload` subscriber-side wrap looks like (daprd uses a fresh id each time)."""
    return {
        "id": event_id,
        "specversion": "1.0",
        "datacontenttype": "application/octet-stream",
        "source": DEFAULT_SOURCE,
        "type": DEFAULT_TYPE,
        "topic": topic,
        "pubsubname": pubsub,
        "data_base64": base64.b64encode(body).decode(),
    }


def has_expired(event: dict[str, Any]) -> bool:
    """True once an `expiration` (RFC 3339) is in the past; unparsable means never."""
    raw = event.get("expiration")
    if not isinstance(raw, str) or not raw:
        return False
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when < datetime.now(UTC)
