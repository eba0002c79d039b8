"""Host settings, read once from the environment (pydantic-settings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from policies import HostLimits, TrustStore


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
    min_period: str = Field(
        default="1s", description="floor of every object's evaluation period, unless limits say"
    )
    max_body_bytes: int = 1024 * 1024
    dapr_http_port: int = Field(
        default=3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "RESIDENT_DAPR_HTTP_PORT")
    )
    dapr_api_token: str | None = Field(default=None, validation_alias="DAPR_API_TOKEN")
    app_api_token: str | None = Field(default=None, validation_alias="APP_API_TOKEN")

    def load_trust(self) -> TrustStore:
        try:
            document = json.loads(self.trust.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"RESIDENT_TRUST={self.trust}: cannot read a JWKS document ({exc}); "
                "create one with `resident keygen NAME`"
            ) from exc
        return TrustStore.from_jwks(document)

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
