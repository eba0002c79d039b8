"""Host settings, read once from the environment (pydantic-settings)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from policies import (
    MAX_BUNDLE_BYTES,
    HostLimits,
    InputLimits,
    PolicyError,
    TrustStore,
    parse_duration,
)

_INPUTS = InputLimits()  # the engine's defaults, which the settings below start from
# Idempotency records are state every keyed turn rewrites: both bounds keep that cost finite.
MAX_IDEMPOTENCY_WINDOW = timedelta(days=30)
MAX_IDEMPOTENCY_KEYS = 4096


class SettingsError(RuntimeError):
    """A setting points at something missing or malformed; fix the environment and restart."""


class Settings(BaseSettings):
    """`RESIDENT_*` variables plus Dapr's own `DAPR_*`/`APP_API_TOKEN`."""

    model_config = SettingsConfigDict(env_prefix="RESIDENT_", extra="ignore", frozen=True)

    home: Path = Path(".resident")
    trust: Path = Path(".resident/trust.jwks.json")
    host_limits: str | None = Field(
        default=None, description="YAML text, or the path of a YAML file, of HostLimits"
    )
    host_id: str = "resident"
    pubsub: str = "pubsub"
    statestore: str = "statestore"
    audience: str | None = None
    max_token_lifetime: int = Field(
        default=24 * 3600,
        gt=0,
        description="seconds a caller token may live (exp - iat); longer tokens are refused",
    )
    min_period: str = Field(
        default="1s", description="floor of every object's evaluation period, unless limits say"
    )
    max_body_bytes: int = 1024 * 1024
    max_policy_bytes: int = Field(
        default=_INPUTS.max_policy_bytes, description="largest signed policy (compact JWS)"
    )
    max_data_bytes: int = Field(
        default=_INPUTS.max_data_bytes, description="largest object data, as canonical JSON"
    )
    max_json_depth: int = _INPUTS.max_json_depth
    max_rules: int = _INPUTS.max_rules
    max_commands: int = _INPUTS.max_commands
    max_expression_chars: int = _INPUTS.max_expression_chars
    max_comprehension_depth: int = _INPUTS.max_comprehension_depth
    log_level: str = "info"
    log_format: str = Field(default="json", description="json or text")
    subscriptions: str = Field(
        default="",
        description="topics whose messages are routed to objects as workflow events: "
        "comma-separated `topic` or `pubsub/topic` (Dapr reads /dapr/subscribe once at start)",
    )
    command_rate: float = Field(default=200.0, description="commands/s per caller; 0 = no limit")
    command_burst: int = 400
    generate_host_key: bool = Field(
        default=False,
        description="create the host key at start-up when absent (development: one replica)",
    )
    host_key: Path | None = Field(
        default=None, description="PEM private key signing this host's bundles; <home>/host-key.pem"
    )
    trusted_hosts: Path | None = Field(
        default=None, description="JWKS of the hosts whose exported bundles this host trusts"
    )
    require_trusted_hosts: bool = False
    allow_unauthenticated_sidecar: bool = Field(
        default=False,
        description="serve actor and subscription routes without APP_API_TOKEN beyond loopback",
    )
    max_bundle_bytes: int = MAX_BUNDLE_BYTES
    dev_token: str | None = Field(
        default=None,
        repr=False,
        description="set by `resident dev` only: the console's dev sign-in hands this token to "
        "browsers on loopback; unset, the dev sign-in route does not exist",
    )
    idempotency_window: str = Field(
        default="24h",
        description="how long an object remembers an idempotency key (Go or ISO 8601 duration)",
    )
    idempotency_max_keys: int = Field(
        default=256,
        ge=1,
        le=MAX_IDEMPOTENCY_KEYS,
        description="idempotency keys remembered per object; the oldest is dropped first",
    )
    dapr_http_port: int = Field(
        default=3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "RESIDENT_DAPR_HTTP_PORT")
    )
    dapr_api_token: str | None = Field(default=None, validation_alias="DAPR_API_TOKEN")
    app_api_token: str | None = Field(default=None, validation_alias="APP_API_TOKEN")

    @property
    def host_key_path(self) -> Path:
        return self.host_key or self.home / "host-key.pem"

    def idempotency_window_delta(self) -> timedelta:
        """RESIDENT_IDEMPOTENCY_WINDOW as a duration, at most `MAX_IDEMPOTENCY_WINDOW`."""
        try:
            window = parse_duration(self.idempotency_window, field="RESIDENT_IDEMPOTENCY_WINDOW")
        except PolicyError as exc:
            raise SettingsError(exc.message) from exc
        if window > MAX_IDEMPOTENCY_WINDOW:
            raise SettingsError(
                f"RESIDENT_IDEMPOTENCY_WINDOW={self.idempotency_window} is longer than "
                f"{MAX_IDEMPOTENCY_WINDOW.days} days"
            )
        return window

    def load_trusted_hosts(self) -> TrustStore | None:
        """None when unset: every bundle's signer is then recorded as untrusted."""
        if self.trusted_hosts is None:
            return None
        try:
            document = json.loads(self.trusted_hosts.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"RESIDENT_TRUSTED_HOSTS={self.trusted_hosts}: cannot read a JWKS document ({exc})"
            ) from exc
        return TrustStore.from_jwks(document, require_issuer=False)  # host keys sign bundles only

    def subscription_topics(self) -> list[tuple[str, str]]:
        """(pubsub, topic) pairs of RESIDENT_SUBSCRIPTIONS; a bare topic uses RESIDENT_PUBSUB."""
        pairs = []
        for item in (part.strip() for part in self.subscriptions.split(",")):
            if item:
                pubsub, _, topic = item.rpartition("/")
                pairs.append((pubsub or self.pubsub, topic))
        return pairs

    def load_trust(self) -> TrustStore:
        try:
            document = json.loads(self.trust.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"RESIDENT_TRUST={self.trust}: cannot read a JWKS document ({exc}); "
                "create one with `resident keygen NAME`"
            ) from exc
        return TrustStore.from_jwks(document)

    def input_limits(self) -> InputLimits:
        """Sizes, depth and counts this host accepts; bad values raise `InvalidConfig`."""
        return InputLimits(
            max_policy_bytes=self.max_policy_bytes,
            max_data_bytes=self.max_data_bytes,
            max_json_depth=self.max_json_depth,
            max_rules=self.max_rules,
            max_commands=self.max_commands,
            max_expression_chars=self.max_expression_chars,
            max_comprehension_depth=self.max_comprehension_depth,
        )

    def load_limits(self) -> HostLimits:
        mapping = self._limits_mapping()
        mapping.setdefault("min_period", self.min_period)
        return HostLimits.from_mapping(mapping)

    def _limits_mapping(self) -> dict[str, Any]:
        if not self.host_limits:
            return {}
        text = self.host_limits
        candidate = Path(text)
        if "\n" not in text and candidate.suffix in {".yaml", ".yml", ".json"}:
            try:
                text = candidate.read_text()
            except OSError as exc:
                raise SettingsError(f"RESIDENT_HOST_LIMITS={candidate}: {exc}") from exc
        try:
            mapping: Any = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"RESIDENT_HOST_LIMITS is not valid YAML: {exc}") from exc
        if not isinstance(mapping, dict):
            raise SettingsError("RESIDENT_HOST_LIMITS must be a YAML mapping")
        return mapping
