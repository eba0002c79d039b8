"""Proof that a pub/sub message came through this host's own subscription route.

Only the app's subscription route receives messages from the sidecar (its `/dapr/` routes are
the sidecar's alone once APP_API_TOKEN is set). It marks each message it passes to an object
with an HMAC under a key only this host's replicas hold, derived from the host key they share;
`Deliver` refuses a message without a valid mark. Without this, anything that can call the
actor (any app in the namespace through its own sidecar, or anyone reaching an unguarded app
port) could forge pub/sub events into workflows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import rfc8785

from policies import SigningKey

from ._errors import ForbiddenError

LABEL = b"resident/deliver/v1"
MARK_FIELD = "mark"


def delivery_key(host_key: SigningKey) -> bytes:
    """A MAC key of the host key's own, so no other secret needs distributing."""
    return hmac.new(hashlib.sha256(host_key.private_pem).digest(), LABEL, "sha256").digest()


def mark(key: bytes, *, pubsub: str, topic: str, event: Mapping[str, Any]) -> str:
    """The mark the subscription route attaches to what it delivers."""
    covered = rfc8785.dumps([pubsub, topic, event])
    return hmac.new(key, covered, "sha256").hexdigest()


def check_mark(key: bytes | None, request: Mapping[str, Any]) -> None:
    """Refuse a delivery this host's subscription route did not mark."""
    given, event = request.get(MARK_FIELD), request.get("event")
    pubsub, topic = request.get("pubsub"), request.get("topic")
    if key is None or not isinstance(given, str) or not isinstance(event, Mapping):
        raise ForbiddenError("a pub/sub delivery must come through this host's subscription route")
    if not isinstance(pubsub, str) or not isinstance(topic, str):
        raise ForbiddenError("a pub/sub delivery must name its pub/sub and topic")
    expected = mark(key, pubsub=pubsub, topic=topic, event=event)
    if not hmac.compare_digest(given, expected):
        raise ForbiddenError("a pub/sub delivery must come through this host's subscription route")
