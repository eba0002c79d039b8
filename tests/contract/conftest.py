"""Fixtures for the contract tier: real localdapr + real actor app processes on loopback.

One pair serves most tests (session scope: start-up costs ~2 s); tests that kill the sidecar
or need other settings build their own pair with `make_pair`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.pair import SidecarPair, sdk_settings

ACTOR_APP = "tests.contract.actorapp:app"
# Short idle settings so deactivation is observable within a test.
ACTOR_APP_ENV = {"ACTOR_IDLE_TIMEOUT_S": "2", "ACTOR_SCAN_INTERVAL_S": "0.5"}

PairFactory = Callable[..., SidecarPair]


@pytest.fixture(scope="session")
def actor_pair(tmp_path_factory: pytest.TempPathFactory, sidecar: str) -> Iterator[SidecarPair]:
    """The shared actor app + sidecar pair (one per sidecar kind)."""
    with SidecarPair(
        ACTOR_APP, tmp_path_factory.mktemp("actor-pair"), app_env=ACTOR_APP_ENV, sidecar=sidecar
    ) as pair:
        yield pair


@pytest.fixture
def make_pair(tmp_path: Path, sidecar: str) -> Iterator[PairFactory]:
    """Build extra pairs for one test, on the test's sidecar; all are stopped afterwards."""
    made: list[SidecarPair] = []

    def make(**kwargs: Any) -> SidecarPair:
        kwargs.setdefault("app_env", ACTOR_APP_ENV)
        kwargs.setdefault("sidecar", sidecar)
        pair = SidecarPair(ACTOR_APP, tmp_path / f"pair{len(made)}", **kwargs)
        made.append(pair)
        return pair.start()

    yield make
    for pair in made:
        pair.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A non-blocking HTTP client for async tests."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
def sdk(actor_pair: SidecarPair) -> Iterator[SidecarPair]:
    """Point the Dapr SDK in the test process at the shared pair."""
    with sdk_pointed_at(actor_pair):
        yield actor_pair


class sdk_pointed_at:
    """Set the SDK's settings for a pair and restore them on exit."""

    _KEYS = ("DAPR_HTTP_PORT", "DAPR_RUNTIME_HOST", "DAPR_API_TOKEN")

    def __init__(self, pair: SidecarPair) -> None:
        self.pair = pair

    def __enter__(self) -> SidecarPair:
        from dapr.conf import settings

        self._saved = {k: settings.__dict__.get(k) for k in self._KEYS}
        sdk_settings(self.pair)
        return self.pair

    def __exit__(self, *exc: object) -> None:
        from dapr.conf import settings

        for key, value in self._saved.items():
            if value is None:
                settings.__dict__.pop(key, None)
            else:
                settings.__dict__[key] = value


def app_stats(pair: SidecarPair) -> dict[str, Any]:
    """What the test actor app observed (firings, activations, overlapping turns)."""
    data: dict[str, Any] = httpx.get(f"{pair.app_url}/test/stats", timeout=5).json()
    return data
