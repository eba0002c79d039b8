"""Fixtures for end-to-end tests: real Resident hosts on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hosts import Issuer, ResidentHost


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    return Issuer("https://issuer-x.example")


@pytest.fixture(scope="session")
def mallory() -> Issuer:
    """An issuer no host trusts."""
    return Issuer("https://mallory.example")


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    """One host per module and sidecar; it observes `alerts` through a subscriber app."""
    workdir: Path = tmp_path_factory.mktemp("host-a")
    with ResidentHost(workdir, trusted=[issuer], sidecar=sidecar, observe=["alerts"]) as running:
        yield running
