"""A plain Dapr app subscribed to some topics, with its own sidecar on a Resident host's broker.

It is the contract tier's subscriber app (`tests.contract.subscriberapp`), given declarative
`Subscription`s, so it receives what Resident objects publish the way a separate Dapr app would
in production: through its own sidecar (localdapr sharing the host's broker db, or daprd on the
host's control plane and Redis). Tests observe pub/sub through it on both sidecars.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.contract.pair import SidecarPair
from tests.support import ROOT

APP = "tests.contract.subscriberapp:app"

_SUBSCRIPTION = """\
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: {topic}
spec:
  pubsubname: {pubsub}
  topic: {topic}
  routes:
    default: /events/{topic}
scopes:
  - {app_id}
"""


class Subscriber(SidecarPair):
    """Subscribed to `pubsub`/`topics`, on the same installation (broker) as `join`."""

    def __init__(
        self,
        workdir: Path,
        *,
        join: SidecarPair,
        topics: Sequence[str],
        pubsub: str = "pubsub",
        app_id: str = "subscriber",
    ) -> None:
        resources = workdir / "resources-source"
        resources.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "components" / "pubsub.yaml", resources / "pubsub.yaml")
        subscriptions = [
            _SUBSCRIPTION.format(topic=topic, pubsub=pubsub, app_id=app_id) for topic in topics
        ]
        (resources / "subscriptions.yaml").write_text("---\n".join(subscriptions))
        super().__init__(
            APP,
            workdir,
            app_id=app_id,
            resources_path=resources,
            sidecar=join.sidecar.joined_by(join),
        )
        self.topics = tuple(topics)

    def received(self, topic: str | None = None) -> list[dict[str, Any]]:
        """The CloudEvents the app has received on `topic` (default: its first), oldest first."""
        topic = topic or self.topics[0]
        if topic not in self.topics:
            raise ValueError(f"the subscriber does not observe {topic!r} ({self.topics})")
        records = httpx.get(f"{self.app_url}/test/received/{topic}", timeout=10).json()
        return [r["event"] for r in records]
