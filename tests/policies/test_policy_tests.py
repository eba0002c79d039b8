"""`resident test`: YAML unit tests run against the real engine, with a diff on failure."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from policies import discover, junit_xml, run_suite, summary
from tests.support import ROOT

EXAMPLES = ROOT / "policies" / "examples"
THERMOSTAT = (EXAMPLES / "thermostat.yaml").read_text()


def suite(tmp_path: Path, cases: str) -> Path:
    (tmp_path / "thermostat.yaml").write_text(THERMOSTAT)
    path = tmp_path / "thermostat.test.yaml"
    path.write_text(textwrap.dedent(cases))
    return path


def test_every_example_policy_has_a_passing_test_file() -> None:
    policies = {p.name for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".test.yaml")}
    tests = {p.name.replace(".test.yaml", ".yaml") for p in discover(EXAMPLES)}
    assert tests == policies
    for path in discover(EXAMPLES):
        result = run_suite(path)
        assert result.passed, summary([result])
        assert len(result.cases) >= 5


def test_a_passing_suite(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - name: hot report
            caller: {sub: s1, roles: [sensor]}
            command: report
            params: {temperature: 35}
            expect: {result: alarm, fired: [overheat]}
        """,
    )
    result = run_suite(path)
    assert result.passed
    assert summary([result]).splitlines() == [f"ok    {path}: hot report", "1 passed, 0 failed"]


def test_a_failing_suite_shows_a_diff_of_what_differs(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - name: wrong expectation
            caller: {sub: s1, roles: [sensor]}
            command: report
            params: {temperature: 35}
            expect:
              result: ok
              data: {status: ok, temperature: 35}
          - name: right one
            cycle: true
            expect: {fired: []}
        """,
    )
    result = run_suite(path)
    assert not result.passed
    assert [c.passed for c in result.cases] == [False, True]
    assert result.cases[0].diff.splitlines() == [
        "--- expected",
        "+++ actual",
        "@@ -1,3 +1,3 @@",
        " data:",
        "-  status: ok",
        "+  status: alarm",
        "   temperature: 35",
        "--- expected",
        "+++ actual",
        "@@ -1 +1 @@",
        "-result: ok",
        "+result: alarm",
    ]
    text = summary([result])
    assert f"FAIL  {path}: wrong expectation" in text
    assert text.endswith("1 passed, 1 failed")


def test_a_refusal_code_and_denials_are_expectations(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - name: not a sensor
            caller: {sub: v, roles: [viewer]}
            command: report
            params: {temperature: 35}
            expect:
              refused: invalid_params
        """,
    )
    (case,) = run_suite(path).cases
    assert not case.passed
    assert "-refused: invalid_params" in case.diff
    assert "+  code: forbidden" in case.diff


def test_a_bad_test_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - name: typo
            command: report
            expect: {resutl: 1}
        """,
    )
    result = run_suite(path)
    assert not result.passed
    assert result.error is not None
    assert result.error.endswith(
        "not a valid test file: line 4 column 14: cases.0.expect.resutl: Extra inputs are "
        "not permitted"
    )


def test_a_policy_that_does_not_load_fails_the_suite(tmp_path: Path) -> None:
    path = suite(tmp_path, "cases: [{name: x, cycle: true, expect: {}}]\n")
    (tmp_path / "thermostat.yaml").write_text(THERMOSTAT.replace("version: 3", "version: 0"))
    result = run_suite(path)
    assert result.error is not None
    assert "version" in result.error


@pytest.mark.parametrize("count", [1])
def test_junit_report(tmp_path: Path, count: int) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - {name: passes, cycle: true, expect: {fired: []}}
          - {name: fails, cycle: true, expect: {fired: [overheat]}}
        """,
    )
    root = ET.fromstring(junit_xml([run_suite(path)]))
    (testsuite,) = root.findall("testsuite")
    assert (testsuite.get("tests"), testsuite.get("failures")) == ("2", str(count))
    failing = testsuite.findall("testcase")[1]
    assert failing.get("name") == "fails"
    failure = failing.find("failure")
    assert failure is not None
    assert "+fired: []" in (failure.text or "")


def test_the_readme_example_test_file_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Writing policies", 1)[1]
    block = section.split("A complete file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = suite(tmp_path, block)
    result = run_suite(path)
    assert result.passed, summary([result])
    assert len(result.cases) == 3


def test_a_bad_duration_or_time_in_a_case_is_a_file_error(tmp_path: Path) -> None:
    path = suite(
        tmp_path,
        """\
        cases:
          - {name: x, cycle: true, state: a, elapsed: soon, expect: {}}
          - {name: y, cycle: true, now: "2030-01-01", expect: {}}
        """,
    )
    error = run_suite(path).error or ""
    assert "line 2 column 47: cases.0.elapsed: Value error" in error
    assert "line 3 column 33: cases.1.now: Value error" in error
    assert "has no time zone" in error


def test_a_command_naming_a_workflow_event_is_routed_to_the_workflow(tmp_path: Path) -> None:
    (tmp_path / "order.yaml").write_text((EXAMPLES / "order.yaml").read_text())
    path = tmp_path / "order.test.yaml"
    path.write_text(
        "cases:\n"
        "  - name: paid through the commands route\n"
        "    state: awaiting_payment\n"
        "    caller: {sub: psp, roles: [payments]}\n"
        "    command: payment_received\n"
        "    params: {payment_id: pay-9}\n"
        "    expect: {state: paid, data: {payment_id: pay-9}}\n"
    )
    result = run_suite(path)
    assert result.passed, summary([result])
