"""The policy document as frozen pydantic models, validated once at the edge.

Everything downstream trusts these models: field names, types, path syntax and uniqueness are
checked here, CEL syntax in `_cel`, durations in `_durations`, the JSON Schema in `_schema`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from ._errors import InvalidPolicy, listed, validation_problems

PATH_PATTERN = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

DataPath = Annotated[str, Field(pattern=PATH_PATTERN)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=128)]
# Rule and command names appear in records and URLs, not in CEL, so "-" and "." are fine.
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
# Names an effect sends to the Dapr sidecar, where they become URL path segments: component
# (pub/sub, binding) names and app ids as Dapr names them (letters, digits, `._-`, starting
# with a letter or digit, so never `.` or `..`); a service method or a topic (daprd routes
# `/publish/{pubsub}/{topic:*}`) is such segments joined by `/`. Nothing else (`/` in a name,
# `?`, `#`, `%`, spaces, controls) can steer a call to another sidecar route; the sidecar
# client also percent-escapes every segment.
DaprName = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")]
MethodPath = Annotated[
    StrictStr,
    Field(pattern=r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$",
          max_length=512),
]  # fmt: skip
# A hard ceiling; each host applies its own, lower limit (InputLimits.max_expression_chars).
Expr = Annotated[StrictStr, Field(min_length=1, max_length=64 * 1024)]
ParamType = Literal["number", "integer", "string", "boolean", "object", "array"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SetAction(_Frozen):
    set: dict[DataPath, Expr] = Field(min_length=1)


class UnsetAction(_Frozen):
    unset: tuple[DataPath, ...] = Field(min_length=1)


class PublishSpec(_Frozen):
    topic: MethodPath
    pubsub: DaprName | None = None
    data: Expr | None = None


class PublishAction(_Frozen):
    publish: PublishSpec


class BindingSpec(_Frozen):
    name: DaprName
    operation: DaprName
    data: Expr | None = None
    metadata: dict[str, StrictStr] = Field(default_factory=dict)


class InvokeBindingAction(_Frozen):
    invoke_binding: BindingSpec


class ServiceSpec(_Frozen):
    app_id: DaprName
    method: MethodPath
    data: Expr | None = None


class InvokeServiceAction(_Frozen):
    invoke_service: ServiceSpec


def _action_kind(value: Any) -> str | None:
    """Tag an action by its single key so a typo yields one clear error, not five."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    if isinstance(value, BaseModel):
        return str(next(iter(type(value).model_fields)))
    return None


Action = Annotated[
    Annotated[SetAction, Tag("set")]
    | Annotated[UnsetAction, Tag("unset")]
    | Annotated[PublishAction, Tag("publish")]
    | Annotated[InvokeBindingAction, Tag("invoke_binding")]
    | Annotated[InvokeServiceAction, Tag("invoke_service")],
    Discriminator(
        _action_kind,
        custom_error_type="invalid_action",
        custom_error_message=(
            "an action is an object with exactly one key: set, unset, publish, "
            "invoke_binding or invoke_service"
        ),
    ),
]


class Evaluation(_Frozen):
    every: StrictStr | None = None
    on_change: StrictBool = False
    max_actions: Annotated[StrictInt, Field(ge=0, le=10_000)] = 100


class Capabilities(_Frozen):
    write: tuple[Annotated[str, Field(pattern=r"^\*$|" + PATH_PATTERN)], ...] = ()
    publish: tuple[Annotated[StrictStr, Field(min_length=1)], ...] = ()
    bindings: tuple[Annotated[StrictStr, Field(min_length=1)], ...] = ()
    services: tuple[Annotated[StrictStr, Field(pattern=r"^[^/]+/.+$")], ...] = ()


class Command(_Frozen):
    params: dict[Name, ParamType] = Field(default_factory=dict)
    when: Expr = "true"
    do: tuple[Action, ...] = ()
    returns: Expr | None = None


class Rule(_Frozen):
    name: Label
    when: Expr
    do: tuple[Action, ...] = Field(min_length=1)


class Transition(_Frozen):
    """An edge of the workflow: `on` an event, `after` a durable timeout, or neither (taken
    as soon as `when` holds: on entry, after a command, on each cycle)."""

    to: Label
    on: Label | None = None
    after: StrictStr | None = None
    when: Expr | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted `on:` key as the boolean True."""
        if isinstance(value, dict) and True in value:
            value = {("on" if k is True else k): v for k, v in value.items()}
        return value


class WorkflowState(_Frozen):
    on_enter: tuple[Action, ...] = ()
    transitions: tuple[Transition, ...] = ()
    terminal: StrictBool = False
    initial: StrictBool = False


class Workflow(_Frozen):
    """States and transitions; `initial` names the state a new object enters (or one state
    may say `initial: true` instead)."""

    initial: Label | None = None
    states: dict[Label, WorkflowState] = Field(min_length=1)


class Subscription(_Frozen):
    """A topic whose messages are workflow events for this object. `object` is CEL over
    `event` (the CloudEvent) naming the object the message is for; `when` admits it."""

    topic: Annotated[StrictStr, Field(min_length=1)]
    pubsub: Annotated[StrictStr, Field(min_length=1)] | None = None
    event: Label
    when: Expr = "true"
    object: Expr = "event.data.object_id"


class PolicyDocument(_Frozen):
    """A policy as signed: registered claims plus the policy fields of issue 2."""

    iss: Annotated[StrictStr, Field(min_length=1)]
    iat: StrictInt
    exp: StrictInt | None = None
    nbf: StrictInt | None = None
    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")]
    version: Annotated[StrictInt, Field(ge=1)]
    objects: tuple[Annotated[StrictStr, Field(min_length=1)], ...] = Field(min_length=1)
    successors: tuple[StrictStr, ...] | None = None
    # Issuers whose caller tokens the object accepts; None means the policy's own `iss`.
    callers: (
        Annotated[tuple[Annotated[StrictStr, Field(min_length=1)], ...], Field(min_length=1)] | None
    ) = None
    data: dict[str, Any] = Field(default_factory=dict)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    evaluation: Evaluation = Field(default_factory=Evaluation)
    capabilities: Capabilities = Field(default_factory=Capabilities)
    permissions: dict[Name, Expr] = Field(default_factory=dict)
    commands: dict[Label, Command] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    workflow: Workflow | None = None
    subscribe: tuple[Subscription, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_rule_names(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [rule.name for rule in rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        return rules


def parse_document(raw: Any) -> PolicyDocument:
    """Validate a decoded document, turning pydantic's errors into one `InvalidPolicy`."""
    if not isinstance(raw, dict):
        raise InvalidPolicy(f"a policy document is a JSON/YAML object, not {type(raw).__name__}")
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        details = validation_problems(exc)
        raise InvalidPolicy(
            f"policy document is invalid ({len(details)} problem(s)): {listed(details)}",
            details=details,
        ) from exc
