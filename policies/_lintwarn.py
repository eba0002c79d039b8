"""Lint warnings about expressions and actions: policies that load but cannot do what their
author meant. Each is a heuristic that errs towards silence: a scan that cannot be sure
(a name used whole, rebound, or read through a schema it cannot follow) says nothing.

- `capability`: an action the policy's own `capabilities` always deny.
- `undeclared-param`: `params.x` where `x` is not a declared param (or no params exist).
- `unknown-data`: `data.a.b` where the initial data, the schema and the policy's own writes
  have no such field.
- `constant-when`: a `when` that depends on nothing (a rule that always or never fires; a
  command or subscription that never admits).
- `shadowed-rule`: an earlier rule whose conditions are all among this rule's, and which
  writes a field this rule's `when` reads: it runs first, whenever this one would, and changes
  what this one tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._cel import CelRuntimeError, Expr
from ._celscan import conditions, selections
from ._compile import _action, _Caps
from ._model import PolicyDocument, Rule, SetAction, UnsetAction
from ._sites import Site, action_sites, expression_sites
from ._yamlpos import Loc

DataPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A warning at `loc`; `offset` is the character within the expression, when known."""

    kind: str
    message: str
    loc: Loc
    offset: int | None = None
    at_key: bool = False


def expression_warnings(doc: PolicyDocument, compiled: Mapping[Loc, Expr]) -> Iterator[Finding]:
    """Every warning kind except the workflow's, in document order per kind."""
    yield from capability_warnings(doc)
    written = written_paths(doc)
    for site in expression_sites(doc):
        yield from _param_warnings(site)
        yield from _data_warnings(site, doc, written)
        expr = compiled.get(site.loc)
        if expr is not None and site.guard:
            yield from _constant_when(site, expr, doc)
    yield from shadowed_rules(doc)


def capability_warnings(doc: PolicyDocument) -> Iterator[Finding]:
    caps = _Caps(doc)
    for site in action_sites(doc):
        for index, compiled in enumerate(_action(site.action, caps, site.where)):
            if compiled.policy_denial is None:
                continue
            if compiled.kind == "set":
                loc: Loc = (*site.loc, "set", compiled.target)
            elif compiled.kind == "unset":
                loc = (*site.loc, "unset", index)
            else:
                field = {"publish": "topic", "invoke_binding": "name"}.get(compiled.kind, "app_id")
                loc = (*site.loc, compiled.kind, field)
            yield Finding(
                "capability",
                f"{site.where}: always denied by this policy's own capabilities: "
                f"{compiled.policy_denial}; add it there or drop the action",
                loc,
                at_key=compiled.kind == "set",
            )


def _param_warnings(site: Site) -> Iterator[Finding]:
    if site.params is None:
        return
    found = selections(site.source, "params")
    for sel in found or ():
        name = sel.chain[0]
        if sel.guarded or name in site.params:
            continue
        declared = ", ".join(sorted(site.params)) or "none"
        yield Finding(
            "undeclared-param",
            f"{site.where}: reads params.{name}, which {site.params_owner} does not declare "
            f"(declared: {declared}); the read fails at run time",
            site.loc,
            sel.start,
        )


def _data_warnings(site: Site, doc: PolicyDocument, written: set[DataPath]) -> Iterator[Finding]:
    for sel in selections(site.source, "data") or ():
        if sel.guarded:
            continue
        index = unknown_field(sel.chain, doc.data, doc.schema_, written)
        if index is None:
            continue
        path = ".".join(sel.chain[: index + 1])
        yield Finding(
            "unknown-data",
            f"{site.where}: reads data.{path}, which neither the initial data, the schema's "
            "properties nor any set action has; check the spelling, or declare it",
            site.loc,
            sel.start,
        )


def unknown_field(chain: DataPath, data: Any, schema: Any, written: set[DataPath]) -> int | None:
    """The index of the first field of `chain` nothing declares; None when all are known or
    the scan reaches a value it cannot see into (a list, a schema without `properties`)."""
    node, sub = data, schema
    for i, name in enumerate(chain):
        prefix = chain[: i + 1]
        writes = [w for w in written if w[: i + 1] == prefix]
        if any(len(w) == i + 1 for w in writes):
            return None  # the policy writes this field whole: its content is open
        props = sub.get("properties") if isinstance(sub, dict) else None
        in_data = isinstance(node, dict) and name in node
        in_schema = isinstance(props, dict) and name in props
        describable = (isinstance(node, dict) and (bool(node) or i == 0)) or isinstance(props, dict)
        if not describable:
            return None
        if not (in_data or in_schema or writes):
            return i
        node = node[name] if in_data else None
        sub = props[name] if in_schema and isinstance(props, dict) else None
    return None


def written_paths(doc: PolicyDocument) -> set[DataPath]:
    """Every data path a set action writes (an unset only removes)."""
    paths: set[DataPath] = set()
    for site in action_sites(doc):
        if isinstance(site.action, SetAction):
            paths.update(tuple(p.split(".")) for p in site.action.set)
    return paths


def _constant_when(site: Site, expr: Expr, doc: PolicyDocument) -> Iterator[Finding]:
    if expr.needs or site.loc[0] == "workflow":
        return  # transitions: `when: "true"` is the idiom for "go on"; see _lintflow
    if site.loc[0] == "commands" and "when" not in doc.commands[str(site.loc[1])].model_fields_set:
        return
    try:
        value: Any = expr.run({})
    except CelRuntimeError as exc:
        value = f"an error ({exc})"
    rule = site.loc[0] == "rules"
    if value is True and not rule:
        return
    if value is True:
        effect = "always true: the rule fires on every cycle; test the data it should react to"
    elif value is False:
        effect = "never true: this can never be taken; remove it or fix the condition"
    else:
        effect = f"constant: it is always {value}, which never admits; fix the condition"
    yield Finding(
        "constant-when",
        f"{site.where}: {site.source!r} reads nothing (no data, params, caller, object, "
        f"now or event), so it is {effect}",
        site.loc,
    )


def shadowed_rules(doc: PolicyDocument) -> Iterator[Finding]:
    for j, later in enumerate(doc.rules):
        reads = selections(later.when, "data")
        if not reads:
            continue
        mine = conditions(later.when)
        for i, earlier in enumerate(doc.rules[:j]):
            theirs = conditions(earlier.when)
            overlap = _overlap(_rule_writes(earlier), [s.chain for s in reads])
            if theirs <= mine and overlap is not None:
                yield Finding(
                    "shadowed-rule",
                    f"rule {later.name!r} is shadowed by rule {earlier.name!r} (rules.{i}): "
                    f"whenever this `when` holds, so did that rule's, which runs first and "
                    f"writes data.{overlap}, read here; {later.name!r} sees the data after it "
                    "and fires only if that rule was denied: merge them or put this one first",
                    ("rules", j, "when"),
                )
                break


def _rule_writes(rule: Rule) -> list[DataPath]:
    writes: list[DataPath] = []
    for action in rule.do:
        if isinstance(action, SetAction):
            writes.extend(tuple(p.split(".")) for p in action.set)
        elif isinstance(action, UnsetAction):
            writes.extend(tuple(p.split(".")) for p in action.unset)
    return writes


def _overlap(writes: list[DataPath], reads: list[DataPath]) -> str | None:
    for write in writes:
        for read in reads:
            shorter = min(len(write), len(read))
            if write[:shorter] == read[:shorter]:
                return ".".join(write)
    return None
