"""Host limits: what this deployment allows any policy to do, whatever the policy says.

Limits only narrow. Effective authority is policy ∩ host: an effect must be allowed by the
policy's capabilities *and* by the host. For every list, None means "no host restriction"
and an empty list means "nothing allowed".

Topics are compared as "pubsub/topic". An entry written without a slash ("alerts") means the
default component "pubsub" ("pubsub/alerts"); a publish action without `pubsub` publishes to
"pubsub" as well. Services are "app-id/method"; bindings are binding names (any operation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
)

from ._durations import parse_duration
from ._errors import InvalidConfig, InvalidPolicy, listed, validation_problems

DEFAULT_PUBSUB = "pubsub"


def topic_key(topic: str, pubsub: str | None = None) -> str:
    """The canonical "pubsub/topic" form used for every comparison."""
    if pubsub is not None:
        return f"{pubsub}/{topic}"
    return topic if "/" in topic else f"{DEFAULT_PUBSUB}/{topic}"


def topic_keys(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(topic_key(entry) for entry in entries)


class HostLimits(BaseModel):
    """Allow-lists of topics, bindings and services, a `max_actions` cap and a minimum
    evaluation period (accepts "5s", "PT5S" or a timedelta; exposed as timedelta)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    publish: tuple[str, ...] | None = None
    bindings: tuple[str, ...] | None = None
    services: tuple[Annotated[str, Field(pattern=r"^[^/]+/.+$")], ...] | None = None
    max_actions: Annotated[StrictInt, Field(ge=0)] | None = None
    min_period: timedelta = timedelta(0)
    _topics: frozenset[str] | None = PrivateAttr(default=None)

    @field_validator("min_period", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        if isinstance(value, timedelta) and value == timedelta(0):
            return value
        try:
            return parse_duration(value, field="min_period")
        except InvalidPolicy as exc:
            raise ValueError(exc.message) from exc

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = listed(validation_problems(exc))
            raise InvalidConfig(f"host limits are invalid: {problems}") from exc

    def model_post_init(self, context: Any, /) -> None:
        """Normalise topics once; `model_validate` skips `__init__` but not this."""
        self._topics = None if self.publish is None else topic_keys(self.publish)

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> HostLimits:
        """Build from YAML/JSON settings; bad input raises `InvalidConfig`."""
        if not isinstance(settings, Mapping) or not all(isinstance(k, str) for k in settings):
            raise InvalidConfig("host limits must be a mapping with string keys")
        for key in ("publish", "bindings", "services"):
            # YAML's `publish:` with nothing after it is null, which would mean "no limit":
            # an operator who wrote the key meant a list. `[]` is nothing; leave it out for any.
            if key in settings and settings[key] is None:
                raise InvalidConfig(
                    f"host limits: `{key}` is empty (null); write `{key}: []` to allow "
                    "nothing, or leave the key out to allow what policies ask"
                )
        return cls(**settings)

    def allows_topic(self, key: str) -> bool:
        return self._topics is None or key in self._topics

    def allows_binding(self, name: str) -> bool:
        return self.bindings is None or name in self.bindings

    def allows_service(self, key: str) -> bool:
        return self.services is None or key in self.services
