"""The policy unit-test file (`NAME.test.yaml` beside `NAME.yaml`), as frozen pydantic models.

Each case sets the scene (data over the policy's initial data, the caller's claims, the
workflow state and how long it has been there), pulls one trigger (a command, a workflow
event, or a cycle) and states what it expects. Expectations are partial: only the keys a case
gives are compared, and inside them a mapping matches when every key it gives matches.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from ._durations import parse_duration
from ._errors import InvalidPolicy
from ._model import Label

DEFAULT_NOW = "2030-01-01T00:00:00Z"
MAX_CASES = 1000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def moment(text: str) -> datetime:
    """An RFC 3339 time with a zone ("2030-01-01T00:00:00Z")."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidPolicy(f"now {text!r} is not an RFC 3339 time") from exc
    if value.tzinfo is None:
        raise InvalidPolicy(f"now {text!r} has no time zone; end it with Z")
    return value


def _checked_now(value: str | None) -> str | None:
    if value is not None:
        try:
            moment(value)
        except InvalidPolicy as exc:
            raise ValueError(exc.message) from exc
    return value


class Expect(_Frozen):
    """What a case expects. `refused` is an error code (`forbidden`, `invalid_params`,
    `unknown_command`, `not_taken` for a workflow event no transition takes), or a mapping
    `{code, message}`; the others compare with the outcome of the same name."""

    result: Any = None
    data: dict[str, Any] | None = None
    changes: list[Any] | None = None
    effects: list[Any] | None = None
    denied: list[Any] | None = None
    errors: list[Any] | None = None
    fired: list[StrictStr] | None = None
    state: StrictStr | None = None
    refused: StrictStr | dict[str, Any] | None = None

    def given(self) -> dict[str, Any]:
        """Only the expectations the case wrote (so `result: null` is one, omitted is not)."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class Case(_Frozen):
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    data: dict[str, Any] = Field(default_factory=dict)
    caller: dict[str, Any] = Field(default_factory=dict)
    command: Label | None = None
    event: Label | None = None
    cycle: StrictBool = False
    params: dict[str, Any] = Field(default_factory=dict)
    state: Label | None = None
    elapsed: StrictStr | None = None
    now: StrictStr | None = None
    object: Annotated[StrictStr, Field(min_length=1)] | None = None
    expect: Expect

    @field_validator("now")
    @classmethod
    def _now(cls, value: str | None) -> str | None:
        return _checked_now(value)

    @field_validator("elapsed")
    @classmethod
    def _elapsed(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value, field="elapsed")
            except InvalidPolicy as exc:
                raise ValueError(exc.message) from exc
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Case:
        triggers = [t for t in ("command", "event") if getattr(self, t) is not None]
        if self.cycle:
            triggers.append("cycle")
        if len(triggers) != 1:
            raise ValueError(
                "a case pulls exactly one trigger: `command: NAME`, `event: NAME` or "
                f"`cycle: true` (this one has {', '.join(triggers) or 'none'})"
            )
        if self.elapsed is not None and self.state is None:
            raise ValueError("`elapsed` is the time spent in `state`; give the state too")
        return self


class Suite(_Frozen):
    """A test file. `policy` is relative to the test file; by default `NAME.yaml` for
    `NAME.test.yaml`. `now` is the clock every case runs at unless it sets its own."""

    policy: StrictStr | None = None
    now: StrictStr = DEFAULT_NOW
    object: Annotated[StrictStr, Field(min_length=1)] | None = None
    cases: tuple[Case, ...] = Field(min_length=1, max_length=MAX_CASES)

    @field_validator("now")
    @classmethod
    def _now(cls, value: str) -> str:
        _checked_now(value)
        return value

    def policy_path(self, test_file: Path) -> Path:
        if self.policy is not None:
            return test_file.parent / self.policy
        name = test_file.name.removesuffix(".yaml").removesuffix(".test")
        return test_file.parent / f"{name}.yaml"
