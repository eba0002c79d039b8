"""What a host contributes to every object it runs: whom it trusts and how far it narrows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from policies import (
    DEFAULT_MAX_TOKEN_LIFETIME,
    EntrySigner,
    HostLimits,
    InputLimits,
    SigningKey,
    TrustStore,
    host_inputs,
    host_keys,
)

from ._requests import MAX_RECORDS, WINDOW


class Clock(Protocol):
    """Where an object reads `now`; tests substitute a controllable one."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HostConfig:
    """Host-wide settings an object consults on every turn.

    `limits` only ever narrows a policy: effective authority is policy ∩ host. `inputs`
    bounds what the host accepts at all (sizes, JSON depth, counts), checked inside the actor
    because a call through the sidecar never passes the app's HTTP checks.
    """

    trust: TrustStore
    limits: HostLimits = field(default_factory=HostLimits)
    inputs: InputLimits = field(default_factory=InputLimits)
    host_id: str = "resident"
    pubsub: str = "pubsub"
    statestore: str = "statestore"
    audience: str | None = None
    max_token_lifetime: timedelta = DEFAULT_MAX_TOKEN_LIFETIME
    clock: Clock = field(default_factory=SystemClock)
    # Portability: the key that signs this host's export bundles, and whose bundles it trusts.
    host_key: SigningKey | None = None
    trusted_hosts: TrustStore | None = None
    require_trusted_hosts: bool = False
    # Marks what this host's subscription route delivers (see _delivery); None: refuse all.
    delivery_key: bytes | None = None
    # How long, and how many per object, idempotency keys are remembered (actors._requests).
    idempotency_window: timedelta = WINDOW
    idempotency_max_keys: int = MAX_RECORDS
    # Derived once: the host key as an entry signer (Ed25519 only; None leaves entries
    # unsigned) and what every lineage entry records of this host's configuration.
    entry_signer: EntrySigner | None = field(init=False, default=None)
    recorded: dict[str, Any] = field(init=False, default_factory=dict)
    # And the idempotency window in whole milliseconds, as records keep their times.
    idempotency_window_ms: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        signer = None
        if self.host_key is not None and self.host_key.alg == "EdDSA":
            signer = EntrySigner(self.host_key)
        object.__setattr__(self, "entry_signer", signer)
        object.__setattr__(self, "recorded", host_inputs(self.limits, self.inputs))
        window_ms = self.idempotency_window // timedelta(milliseconds=1)
        object.__setattr__(self, "idempotency_window_ms", window_ms)

    def known_hosts(self) -> dict[str, dict[str, Any]]:
        """{kid: jwk} of the hosts whose entry signatures count as trusted here: this host
        and its trusted hosts."""
        keys = [] if self.trusted_hosts is None else self.trusted_hosts.to_jwks()["keys"]
        if self.entry_signer is not None:
            keys = [*keys, self.entry_signer.jwk]
        return host_keys(keys)
