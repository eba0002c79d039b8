"""`resident lint`: every check loading makes, plus the warnings an author needs, each
reported at the line and column of the YAML node it is about, all at once.

Errors are what a host would refuse (YAML, fields, CEL, durations, schema, workflow, limits);
`sign_policy` refuses the same document. Warnings (`_lintwarn`, `_lintflow`) are about policies
that load but cannot do what their author meant. Nothing here touches a network or a host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785
from pydantic import ValidationError

from ._cel import Expr, compile_expr
from ._celcost import shape
from ._compile import Block, _validator, compile_document
from ._durations import parse_duration
from ._errors import InvalidPolicy, PolicyError
from ._flowcheck import compile_workflow, yaml_keys
from ._inputs import InputLimits
from ._lintflow import workflow_warnings
from ._lintwarn import Finding, expression_warnings
from ._model import Action, PolicyDocument
from ._sites import Site, expression_sites
from ._yamlpos import Loc, Position, Source, duplicate_keys, located_errors, parse_source

Severity = Literal["error", "warning"]
# `_cel` names a parse error's column as "'<source>' col N:" (1-based) on one-line sources.
_CEL_COLUMN = re.compile(r"' col (\d+): ")
_TRUE = compile_expr("true", where="lint")
# Lint checks an unsigned file: `sign_policy` fills these from the key and the clock.
_FILLED = {"iss": "https://lint.invalid", "iat": 0}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `kind` is stable (tests and editors may branch on it)."""

    severity: Severity
    kind: str
    message: str
    line: int
    column: int
    loc: str = ""

    def format(self, file: str) -> str:
        """`file:line:column: severity [kind] message`, the form editors jump to."""
        return f"{file}:{self.line}:{self.column}: {self.severity} [{self.kind}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "kind": self.kind,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "loc": self.loc,
        }


def has_errors(problems: Sequence[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


class _Report:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(
        self,
        severity: Severity,
        kind: str,
        message: str,
        loc: Loc = (),
        *,
        at: Position | None = None,
        at_key: bool = False,
    ) -> None:
        where = at or self.source.position(loc, at_key=at_key)
        dotted = ".".join(str(part) for part in loc)
        self.problems.append(Problem(severity, kind, message, where.line, where.column, dotted))

    def errors(self) -> bool:
        return has_errors(self.problems)


def lint_text(text: str, *, inputs: InputLimits | None = None) -> list[Problem]:
    """Every problem of the policy YAML/JSON `text`, errors and warnings, in file order."""
    inputs = inputs or InputLimits()
    try:
        source = parse_source(text)
    except PolicyError as exc:
        detail = (getattr(exc, "details", None) or [{}])[0]
        line, column = int(detail.get("line", 1)), int(detail.get("column", 1))
        return [Problem("error", "yaml", exc.message, line, column)]
    report = _Report(source)
    document = _document(report, inputs)
    if document is not None:
        compiled = _expressions(report, document, inputs)
        _whole(report, document, inputs)
        _workflow_graph(report, document)
        if not report.errors():
            _compiled_checks(report, document)
        if not report.errors():
            for finding in [*expression_warnings(document, compiled), *workflow_warnings(document)]:
                _warn(report, finding)
    return sorted(report.problems, key=lambda p: (p.line, p.column, p.severity))


def _warn(report: _Report, finding: Finding) -> None:
    at = None
    if finding.offset is not None:
        at = report.source.offset_position(finding.loc, finding.offset)
    report.add("warning", finding.kind, finding.message, finding.loc, at=at, at_key=finding.at_key)


def _document(report: _Report, inputs: InputLimits) -> PolicyDocument | None:
    value = report.source.value
    if not isinstance(value, dict):
        report.add("error", "invalid", "a policy document is a mapping at the top level")
        return None
    for key, first, again in duplicate_keys(report.source):
        message = (
            f"key {key!r} is repeated (first at line {first.line}); YAML keeps only the last "
            "one, so the first is silently lost: merge them"
        )
        report.add("error", "duplicate-key", message, at=again)
    try:
        inputs.check_depth(value, what="policy document", envelope=True)
    except PolicyError as exc:
        report.add("error", exc.code, exc.message)
        return None
    raw = {**_FILLED, **yaml_keys(value)}
    document = _validated(report, raw)
    if document is None:
        return None
    try:
        size = len(rfc8785.dumps(raw))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        report.add(
            "error", "invalid", f"the document is not plain JSON: {exc}; quote dates and times"
        )
        return None
    if size > inputs.max_policy_bytes:
        report.add(
            "error",
            "policy_too_large",
            f"signed, the document would be {size} bytes; the limit is "
            f"{inputs.max_policy_bytes} (RESIDENT_MAX_POLICY_BYTES): shrink it",
        )
    return document


def _validated(report: _Report, raw: dict[str, Any]) -> PolicyDocument | None:
    """The model, or None with each pydantic error at its node (a misspelt key at the key)."""
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        for err in located_errors(exc):
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc) or "(document)"
            at_key = err["type"] == "extra_forbidden"
            report.add("error", "invalid", f"{dotted}: {err['msg']}", loc, at_key=at_key)
        return None


def _expressions(report: _Report, doc: PolicyDocument, inputs: InputLimits) -> dict[Loc, Expr]:
    """Compile every expression on its own, so each bad one is reported, not just the first."""
    compiled: dict[Loc, Expr] = {}
    for site in expression_sites(doc):
        if len(site.source) > inputs.max_expression_chars:
            report.add(
                "error",
                "invalid",
                f"{site.where}: expression is {len(site.source)} characters; the limit is "
                f"{inputs.max_expression_chars} (RESIDENT_MAX_EXPRESSION_CHARS): shorten it",
                site.loc,
            )
            continue
        depth = shape(site.source).depth
        if depth > inputs.max_comprehension_depth:
            report.add(
                "error",
                "invalid",
                f"{site.where}: comprehensions nest {depth} deep; the limit is "
                f"{inputs.max_comprehension_depth} (RESIDENT_MAX_COMPREHENSION_DEPTH)",
                site.loc,
            )
            continue
        try:
            compiled[site.loc] = compile_expr(site.source, where=site.where)
        except InvalidPolicy as exc:
            report.add(
                "error", "invalid", exc.message, site.loc, at=_cel_position(report, site, exc)
            )
    return compiled


def _cel_position(report: _Report, site: Site, exc: InvalidPolicy) -> Position | None:
    """Where in the file the CEL parser stopped, for a one-line expression."""
    match = _CEL_COLUMN.search(exc.message)
    if match is None:
        return None
    return report.source.offset_position(site.loc, int(match.group(1)) - 1)


def _whole(report: _Report, doc: PolicyDocument, inputs: InputLimits) -> None:
    """Counts, the evaluation period, the schema and the initial data."""
    for kind, count, limit in (
        ("rules", len(doc.rules), inputs.max_rules),
        ("commands", len(doc.commands), inputs.max_commands),
    ):
        if count > limit:
            message = f"{count} {kind}; a host allows at most {limit} by default: split the policy"
            report.add("error", "invalid", message, (kind,), at_key=True)
    if doc.evaluation.every is not None:
        try:
            parse_duration(doc.evaluation.every, field="evaluation.every")
        except InvalidPolicy as exc:
            report.add("error", "invalid", exc.message, ("evaluation", "every"))
    try:
        _validator(doc)
    except InvalidPolicy as exc:
        loc: Loc = ("schema",) if exc.message.startswith("schema") else ("data",)
        report.add("error", "invalid", exc.message, loc)
    try:
        inputs.check_data(doc.data, what="initial data")
    except PolicyError as exc:
        report.add("error", exc.code, exc.message, ("data",))


def _workflow_graph(report: _Report, doc: PolicyDocument) -> None:
    """The workflow's states, transitions and timeouts, even when some CEL is broken (the
    expressions were reported on their own; here each block is an inert stand-in)."""
    try:
        compile_workflow(doc, block=_inert_block)
    except InvalidPolicy as exc:
        _details(report, exc)


def _inert_block(kind: str, name: str, when: str, actions: tuple[Action, ...]) -> Block:
    return Block(kind, name, _TRUE, (), {}, None)


def _compiled_checks(report: _Report, doc: PolicyDocument) -> None:
    """Whatever else compiling the whole document finds (subscriptions against the events)."""
    try:
        compile_document(doc)
    except InvalidPolicy as exc:
        _details(report, exc)
    except PolicyError as exc:
        report.add("error", exc.code, exc.message)


def _details(report: _Report, exc: InvalidPolicy) -> None:
    if not exc.details:
        report.add("error", "invalid", exc.message)
    for detail in exc.details:
        loc = tuple(int(p) if p.isdigit() else p for p in detail["loc"].split("."))
        report.add("error", "invalid", f"{detail['loc']}: {detail['msg']}", loc)
