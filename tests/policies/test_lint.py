"""`resident lint`: load errors and each warning kind, at the exact line and column."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import lint_text
from policies._lint import Problem
from tests.support import ROOT

EXAMPLES = sorted((ROOT / "policies" / "examples").glob("*.yaml"))
BASE = """\
id: t
version: 1
objects: ["obj-*"]
data: {n: 0, status: ok, nested: {a: 1}}
capabilities: {write: [n, status], publish: [alerts]}
"""


def lint(body: str) -> list[Problem]:
    return lint_text(BASE + textwrap.dedent(body))


def at(problem: Problem) -> tuple[str, str, int, int]:
    return (problem.severity, problem.kind, problem.line, problem.column)


def text_at(body: str, problem: Problem) -> str:
    line = (BASE + textwrap.dedent(body)).splitlines()[problem.line - 1]
    return line[problem.column - 1 :]


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not p.name.endswith(".test.yaml")])
def test_every_example_lints_clean(path) -> None:
    assert lint_text(path.read_text()) == []


def test_a_misspelt_key_is_an_error_at_the_key() -> None:
    body = """\
    comands:
      go: {do: [{set: {n: "1"}}]}
    """
    (problem,) = lint(body)
    assert at(problem) == ("error", "invalid", 6, 1)
    assert problem.message == "comands: Extra inputs are not permitted"


def test_every_load_error_is_reported_at_once_each_at_its_node() -> None:
    body = """\
    evaluation: {every: soon}
    commands:
      a: {when: "data.n >", do: [{set: {n: "1"}}]}
      b: {when: "true", do: [{set: {n: "params.("}}]}
    """
    problems = lint(body)
    assert [at(p) for p in problems] == [
        ("error", "invalid", 6, 21),
        ("error", "invalid", 8, 22),
        ("error", "invalid", 9, 44),
    ]
    # the CEL errors point where the parser stopped: the end of `data.n >`, the `(`
    assert text_at(body, problems[1]).startswith('", do')
    assert text_at(body, problems[2]).startswith('("}}')
    assert "evaluation.every" in problems[0].message
    assert "command 'a' when" in problems[1].message
    assert "command 'b' action 0 set 'n'" in problems[2].message


def test_a_repeated_key_is_an_error_at_the_second_one() -> None:
    body = """\
    rules: []
    rules: []
    """
    (problem,) = lint(body)
    assert at(problem) == ("error", "duplicate-key", 7, 1)
    assert "first at line 6" in problem.message


def test_bad_yaml_is_an_error_with_its_position() -> None:
    (problem,) = lint_text("id: [unclosed\nversion: 1\n")
    assert (problem.severity, problem.kind, problem.line) == ("error", "yaml", 2)


def test_workflow_load_errors_point_at_the_transition() -> None:
    body = """\
    workflow:
      initial: a
      states:
        a:
          transitions: [{to: nowhere, "on": go}]
        b: {terminal: true}
    """
    problems = lint(body)
    assert [at(p) for p in problems] == [
        ("error", "invalid", 9, 5),
        ("error", "invalid", 10, 21),
    ]
    assert "unreachable from initial 'a': b" in problems[0].message
    assert "to 'nowhere' is not a state" in problems[1].message


def test_capability_warning_points_at_the_denied_target() -> None:
    body = """\
    rules:
      - name: r
        when: "data.n > 1"
        do:
          - set: {n: "0", secret: "1"}
          - publish: {topic: elsewhere}
    """
    problems = lint(body)
    assert [at(p) for p in problems] == [
        ("warning", "capability", 10, 23),
        ("warning", "capability", 11, 26),
    ]
    assert text_at(body, problems[0]).startswith("secret:")
    assert text_at(body, problems[1]).startswith("elsewhere}")
    assert "path 'secret' is not in capabilities.write" in problems[0].message
    assert "topic 'pubsub/elsewhere' is not in capabilities.publish" in problems[1].message


def test_undeclared_param_points_into_the_expression() -> None:
    body = """\
    commands:
      bump:
        params: {by: integer}
        when: "params.bye > 0"
        do: [{set: {n: "data.n + params.by"}}]
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "undeclared-param", 9, 12)
    assert text_at(body, problem).startswith("params.bye")
    assert "declared: by" in problem.message


def test_a_rule_reading_params_is_warned() -> None:
    body = """\
    rules: [{name: r, when: "params.x == 1", do: [{set: {n: "1"}}]}]
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "undeclared-param", 6, 26)
    assert "rules get no params" in problem.message


def test_unknown_data_field_points_into_the_expression() -> None:
    body = """\
    rules:
      - name: r
        when: "data.nested.a > 0 && data.nested.b > 0 && has(data.maybe)"
        do: [{set: {status: "'ok'"}}]
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "unknown-data", 8, 33)
    assert text_at(body, problem).startswith("data.nested.b")
    assert "data.nested.b" in problem.message


def test_fields_the_schema_declares_or_the_policy_writes_are_known() -> None:
    text = textwrap.dedent("""\
    id: t
    version: 1
    objects: ["obj-*"]
    schema: {type: object, properties: {later: {type: string}}}
    capabilities: {write: [made]}
    rules:
      - {name: r, when: "data.later == 'x' && data.made.x == 1", do: [{set: {made: "{}"}}]}
    """)
    assert lint_text(text) == []
    (typo,) = lint_text(text.replace("data.later", "data.latter"))
    assert (typo.kind, typo.line, typo.column) == ("unknown-data", 7, 22)


def test_constant_when_on_a_rule() -> None:
    body = """\
    rules:
      - name: always
        when: "1 < 2"
        do: [{set: {n: "data.n + 1"}}]
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "constant-when", 8, 11)
    assert "always true" in problem.message


def test_constant_false_command_when() -> None:
    body = """\
    commands:
      never: {when: "false", do: [{set: {n: "1"}}]}
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "constant-when", 7, 17)
    assert "never true" in problem.message


def test_shadowed_rule() -> None:
    body = """\
    rules:
      - name: reset
        when: "data.n > 1"
        do: [{set: {n: "0"}}]
      - name: alarm
        when: "data.status == 'ok' && data.n > 1"
        do: [{set: {status: "'alarm'"}}]
    """
    (problem,) = lint(body)
    assert at(problem) == ("warning", "shadowed-rule", 11, 11)
    assert "rule 'alarm' is shadowed by rule 'reset'" in problem.message


def test_transitions_never_taken_and_the_state_they_alone_lead_to() -> None:
    body = """\
    workflow:
      initial: a
      states:
        a:
          transitions:
            - {to: b, "on": go}
            - {to: c, "on": go, when: "data.n > 1"}
            - {to: d, after: 1h}
            - {to: b, after: 2h}
        b: {terminal: true}
        c: {terminal: true}
        d:
          transitions: [{to: b, when: "false"}, {to: a}]
    """
    problems = lint(body)
    assert [at(p) for p in problems] == [
        ("warning", "workflow", 12, 11),
        ("warning", "workflow", 14, 11),
        ("warning", "workflow", 16, 5),
        ("warning", "workflow", 18, 21),
    ]
    assert "transition 0 (event 'go') has no condition and is tried first" in problems[0].message
    assert "`after: 1h` of transition 2 comes first" in problems[1].message
    assert problems[2].message.startswith("state 'c' is never entered")
    assert "never true" in problems[3].message
    assert [text_at(body, p)[:11] for p in problems] == [
        '{to: c, "on',
        "{to: b, aft",
        "c: {termina",
        "{to: b, whe",
    ]


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    (problem,) = lint_text("\n".join(lines) + "\n")
    assert (problem.kind, problem.line) == ("yaml", 1)
    assert "aliases expand to more than" in problem.message


def test_an_unquoted_date_is_not_json() -> None:
    (problem,) = lint_text('id: t\nversion: 1\nobjects: ["o-*"]\ndata: {due: 2024-01-01}\n')
    assert problem.severity == "error"
    assert "not plain JSON" in problem.message


def test_workflow_problems_are_reported_alongside_broken_cel() -> None:
    body = """\
    workflow:
      initial: a
      states:
        a:
          transitions: [{to: nowhere, "on": go, when: "params.("}]
    """
    problems = lint(body)
    assert [(p.line, p.kind) for p in problems] == [(10, "invalid"), (10, "invalid")]
    assert "to 'nowhere' is not a state" in problems[0].message
    assert "transition 0 when" in problems[1].message


EXAMPLE_TEXTS = [p.read_text() for p in EXAMPLES if not p.name.endswith(".test.yaml")]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(EXAMPLE_TEXTS),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=0, max_value=40),
    st.text(alphabet=" :-[]{}\"'\n#&*!|>.abcdpt0123456789", max_size=12),
)
def test_lint_reports_any_edit_as_problems_never_a_crash(
    text: str, at: int, cut: int, insert: str
) -> None:
    at %= len(text)
    edited = text[:at] + insert + text[at + cut :]
    problems = lint_text(edited)
    lines = edited.count("\n") + 2
    assert all(1 <= p.line <= lines and p.column >= 1 for p in problems)
