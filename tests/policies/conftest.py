"""Fixtures for the pure policy tier: one key, its trust store, and signing helpers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from policies import (
    Policy,
    SigningKey,
    TrustStore,
    clear_policy_cache,
    example_document,
    generate_key,
    load_policy,
    sign_policy,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ISSUER = "https://ops.example"
SENSOR = {"sub": "s1", "roles": ["sensor"]}


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small valid document to vary in tests."""
    doc: dict[str, Any] = {
        "id": "t",
        "version": 1,
        "objects": ["obj-*"],
        "data": {"n": 0},
        "capabilities": {"write": ["*"]},
        "rules": [],
    }
    doc.update(overrides)
    return doc


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_policy_cache()


@pytest.fixture(scope="session")
def key() -> SigningKey:
    return generate_key(kid="k1", issuer=ISSUER)


@pytest.fixture(scope="session")
def trust(key: SigningKey) -> TrustStore:
    return TrustStore.from_jwks({"keys": [key.public_jwk]})


Make = Callable[..., Policy]


@pytest.fixture
def make(key: SigningKey, trust: TrustStore) -> Make:
    """Sign and load a document in one step."""

    def build(doc: dict[str, Any], *, object_id: str = "obj-1") -> Policy:
        return load_policy(sign_policy(doc, key, now=NOW), trust, object_id=object_id, now=NOW)

    return build


@pytest.fixture
def thermostat(make: Make) -> Policy:
    return make(example_document("thermostat"), object_id="thermostat-1")


@pytest.fixture
def thermo_doc() -> dict[str, Any]:
    return copy.deepcopy(example_document("thermostat"))
