"""A plain Dapr app subscribed to one topic, with its own localdapr on a Resident host's broker.

It is the contract tier's subscriber app (`tests.contract.subscriberapp`), given a declarative
`Subscription` for the topic, so it receives what Resident objects publish the way a separate
Dapr app would in production: through its own sidecar and a broker shared with the host's.
"""

from __future__ import annotations

import shutil
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
    """Subscribed to `pubsub`/`topic`; the host's broker db is its `--broker-db`."""

    def __init__(
        self,
        workdir: Path,
        *,
        broker_db: Path,
        topic: str,
        pubsub: str = "pubsub",
        app_id: str = "subscriber",
    ) -> None:
        resources = workdir / "resources"
        resources.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "components" / "pubsub.yaml", resources / "pubsub.yaml")
        subscription = _SUBSCRIPTION.format(topic=topic, pubsub=pubsub, app_id=app_id)
        (resources / "subscription.yaml").write_text(subscription)
        super().__init__(APP, workdir, app_id=app_id, resources_path=resources, broker_db=broker_db)
        self.topic = topic

    def received(self) -> list[dict[str, Any]]:
        """The CloudEvents the app has received on its topic, oldest first."""
        records = httpx.get(f"{self.app_url}/test/received/{self.topic}", timeout=10).json()
        return [r["event"] for r in records]
