"""Input limits: how much a host accepts, whatever a policy or a caller sends.

Host limits (`_limits`) narrow what a policy may *do*; these bound what it may *be*: the size
of signed policies and object data, JSON nesting, rule and command counts, expression length.
They exist so that one hostile or careless input costs bounded memory and CPU and is refused
with a stable code, never a crash: CPython's `json` and RFC 8785 recurse, and a body nested
a few thousand levels deep would otherwise surface as a RecursionError (a 500).

Depth counts containers: a scalar is 0, `[]` is 1, `{"a": [1]}` is 2. Params and object data
may nest `max_json_depth`; envelopes around them (a policy document around its data, a bundle
around data and lineage, a pub/sub message) get `ENVELOPE_DEPTH` more.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from ._canonical import canonical_bytes
from ._celcost import shape
from ._decision import Decision
from ._errors import (
    DataTooLarge,
    InvalidConfig,
    InvalidData,
    InvalidPolicy,
    NumberOutOfRange,
    TooDeep,
    listed,
    validation_problems,
)
from ._model import (
    Action,
    InvokeBindingAction,
    InvokeServiceAction,
    PolicyDocument,
    PublishAction,
    SetAction,
)

MAX_POLICY_BYTES = 256 * 1024
MAX_DATA_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_RULES = 256
MAX_COMMANDS = 128
MAX_EXPRESSION_CHARS = 4096
# Nested comprehensions multiply: 16 nested `map`s in 249 characters took 2.2 s. Two levels
# (`a.all(x, b.exists(y, ...))`) cover real policies; run-time cost is bounded in `_celcost`.
MAX_COMPREHENSION_DEPTH = 2
ENVELOPE_DEPTH = 8

Positive = Annotated[StrictInt, Field(ge=1)]


def json_depth(value: Any, *, stop: int | None = None) -> int:
    """Container nesting of `value`, walked without recursion; gives up past `stop`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if stop is not None and deepest > stop:
            return deepest
        stack.extend(
            (child, level + 1) for child in children if isinstance(child, Mapping | list | tuple)
        )
    return deepest


class InputLimits(BaseModel):
    """Sizes, depth and counts this host accepts (RESIDENT_MAX_*); defaults are safe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_policy_bytes: Positive = MAX_POLICY_BYTES
    max_data_bytes: Positive = MAX_DATA_BYTES
    max_json_depth: Positive = MAX_JSON_DEPTH
    max_rules: Annotated[StrictInt, Field(ge=0)] = MAX_RULES
    max_commands: Annotated[StrictInt, Field(ge=0)] = MAX_COMMANDS
    max_expression_chars: Positive = MAX_EXPRESSION_CHARS
    max_comprehension_depth: Annotated[StrictInt, Field(ge=0)] = MAX_COMPREHENSION_DEPTH

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = listed(validation_problems(exc))
            raise InvalidConfig(f"input limits are invalid: {problems}") from exc

    # --- JSON depth -----------------------------------------------------------------------

    def check_depth(self, value: Any, *, what: str, envelope: bool = False) -> None:
        """Raise `TooDeep` when `value` nests deeper than allowed (`envelope`: + margin)."""
        limit = self.max_json_depth + (ENVELOPE_DEPTH if envelope else 0)
        depth = json_depth(value, stop=limit)
        if depth > limit:
            raise TooDeep(
                f"{what} nests more than {limit} levels deep; this host's limit is "
                f"{self.max_json_depth} (RESIDENT_MAX_JSON_DEPTH); flatten it"
            )

    def loads(self, raw: str | bytes, *, what: str, envelope: bool = False) -> Any:
        """`json.loads` that turns pathological nesting into `TooDeep`, never RecursionError.

        Bad JSON still raises `ValueError`, so each caller keeps its own code for it. Text
        with fewer brackets than the limit cannot be too deep, which skips the walk."""
        try:
            value = exact_json(raw)
        except RecursionError as exc:
            raise TooDeep(
                f"{what} nests thousands of levels deep; this host's limit is "
                f"{self.max_json_depth} (RESIDENT_MAX_JSON_DEPTH)"
            ) from exc
        opening = ("[", "{") if isinstance(raw, str) else (b"[", b"{")
        limit = self.max_json_depth + (ENVELOPE_DEPTH if envelope else 0)
        if raw.count(opening[0]) + raw.count(opening[1]) > limit:  # type: ignore[arg-type]
            self.check_depth(value, what=what, envelope=envelope)
        return value

    # --- policy documents -----------------------------------------------------------------

    def check_document(self, doc: PolicyDocument) -> None:
        """Counts, expression lengths and initial data of a parsed policy (the document's
        own nesting is checked before parsing, with `check_depth(..., envelope=True)`)."""
        for kind, count, limit, setting in (
            ("rules", len(doc.rules), self.max_rules, "RESIDENT_MAX_RULES"),
            ("commands", len(doc.commands), self.max_commands, "RESIDENT_MAX_COMMANDS"),
        ):
            if count > limit:
                raise InvalidPolicy(
                    f"policy {doc.id!r} has {count} {kind}; this host allows at most {limit} "
                    f"({setting}); split the policy or merge {kind}"
                )
        for where, source in expressions(doc):
            if len(source) > self.max_expression_chars:
                raise InvalidPolicy(
                    f"{where}: expression is {len(source)} characters; this host allows "
                    f"{self.max_expression_chars} (RESIDENT_MAX_EXPRESSION_CHARS); shorten it"
                )
            depth = shape(source).depth
            if depth > self.max_comprehension_depth:
                raise InvalidPolicy(
                    f"{where}: comprehensions (all, exists, exists_one, map, filter) nest {depth} "
                    f"deep; this host allows {self.max_comprehension_depth} "
                    "(RESIDENT_MAX_COMPREHENSION_DEPTH); nest fewer"
                )
        self.check_data(doc.data, what=f"policy {doc.id!r} initial data")

    # --- object data ----------------------------------------------------------------------

    def check_data(self, data: Any, *, what: str) -> bytes:
        """Whole object data within depth and size; returns its canonical JSON."""
        self.check_depth(data, what=what)
        encoded = _canonical(data)
        self._check_size(encoded, what=what)
        return encoded

    def measure(self, decision: Decision) -> str | None:
        """The data digest of a Decision that changed data, after checking its depth and size
        (one canonical encoding, reused for the lineage entry); None when data is unchanged.

        Depth is checked on the changed values only: the rest was within limits already."""
        if not decision.changes:
            return None
        for change in decision.changes:
            if change.get("op") == "set":
                depth = str(change["path"]).count(".") + 1 + json_depth(change.get("value"))
                if depth > self.max_json_depth:
                    raise TooDeep(
                        f"setting {change['path']!r} would nest data {depth} levels deep; "
                        f"this host's limit is {self.max_json_depth} (RESIDENT_MAX_JSON_DEPTH)"
                    )
        encoded = _canonical(decision.data)
        self._check_size(encoded, what="the resulting data")
        return "sha256:" + hashlib.sha256(encoded).hexdigest()

    def bound_cycle(
        self, decision: Decision, *, data: dict[str, Any]
    ) -> tuple[Decision, str | None]:
        """A cycle's Decision within limits, with its digest; or, when its data would exceed
        them, the same cycle with nothing applied and every fired rule denied (recorded in
        lineage like any denial, so the object keeps running on its previous data)."""
        try:
            return decision, self.measure(decision)
        except (DataTooLarge, TooDeep) as exc:
            reason = f"{exc.code}: {exc.message}"
            denied = [{"rule": name, "reason": reason, "by": "size"} for name in decision.fired]
            return Decision(
                data=data, denied=[*decision.denied, *denied], errors=list(decision.errors)
            ), None

    def _check_size(self, encoded: bytes, *, what: str) -> None:
        if len(encoded) > self.max_data_bytes:
            raise DataTooLarge(
                f"{what} would be {len(encoded)} bytes of canonical JSON; this host's limit "
                f"is {self.max_data_bytes} (RESIDENT_MAX_DATA_BYTES); store less"
            )


def _canonical(data: Any) -> bytes:
    try:
        return canonical_bytes(data)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidData(f"value is not canonical JSON: {exc}") from exc


def expressions(doc: PolicyDocument) -> Iterator[tuple[str, str]]:
    """Every CEL source in `doc` with where it sits, as error messages name it."""
    for rule in doc.rules:
        yield f"rule {rule.name!r} when", rule.when
        yield from _actions(f"rule {rule.name!r}", rule.do)
    for name, command in doc.commands.items():
        yield f"command {name!r} when", command.when
        if command.returns is not None:
            yield f"command {name!r} returns", command.returns
        yield from _actions(f"command {name!r}", command.do)
    for name, expr in doc.permissions.items():
        yield f"permission {name!r}", expr
    if doc.workflow is not None:
        for state_name, state in doc.workflow.states.items():
            yield from _actions(f"state {state_name!r} on_enter", state.on_enter)
            for index, transition in enumerate(state.transitions):
                if transition.when is not None:
                    yield f"state {state_name!r} transition {index} when", transition.when
    for index, sub in enumerate(doc.subscribe):
        yield f"subscribe {index} when", sub.when
        yield f"subscribe {index} object", sub.object


def _actions(where: str, actions: Sequence[Action]) -> Iterator[tuple[str, str]]:
    for index, action in enumerate(actions):
        if isinstance(action, SetAction):
            for path, expr in action.set.items():
                yield f"{where} action {index} set {path!r}", expr
            continue
        spec: Any = None
        if isinstance(action, PublishAction):
            spec = action.publish
        elif isinstance(action, InvokeBindingAction):
            spec = action.invoke_binding
        elif isinstance(action, InvokeServiceAction):
            spec = action.invoke_service
        if spec is not None and spec.data is not None:
            yield f"{where} action {index} data", spec.data


def exact_json(raw: str | bytes) -> Any:
    """`json.loads` for input: numbers must be finite and integers exact (NumberOutOfRange).
    `NaN`, `Infinity` and `-Infinity`, which Python's decoder accepts, are refused too."""
    return json.loads(
        raw, parse_float=_finite_float, parse_int=_exact_int, parse_constant=_no_constant
    )


def _no_constant(text: str) -> float:
    raise NumberOutOfRange(f"number {text!r} is out of range: it is not finite")


# The largest integer canonical JSON (RFC 8785) and IEEE doubles hold exactly.
MAX_EXACT_INT = 2**53 - 1


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberOutOfRange(f"number {text[:40]!r} is out of range: it is not finite")
    return value


def _exact_int(text: str) -> int:
    """Checked on the digits, before Python converts (a 5,000-digit literal is refused cheaply)."""
    digits = text.lstrip("-")
    if len(digits) > 16 or int(text) > MAX_EXACT_INT or int(text) < -MAX_EXACT_INT:
        raise NumberOutOfRange(
            f"integer {text[:40]}{'...' if len(text) > 40 else ''} is out of range: integers "
            f"must be within ±{MAX_EXACT_INT} (send larger values as strings)"
        )
    return int(text)
