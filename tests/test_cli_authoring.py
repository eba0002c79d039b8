"""`resident schema`, `lint`, `test` and `sign` as an author runs them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from policies import schema_text
from tests.support import ROOT

EXAMPLES = ROOT / "policies" / "examples"
THERMOSTAT = (EXAMPLES / "thermostat.yaml").read_text()


def cli(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env["RESIDENT_HOME"] = str(home)
        env.pop("RESIDENT_TRUST", None)
    argv = [sys.executable, "-m", "app.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)


def test_schema_prints_the_shipped_schema() -> None:
    done = cli("schema")
    assert done.returncode == 0
    assert done.stdout == schema_text()


def test_lint_reports_every_problem_with_file_line_column_and_exits_1(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        THERMOSTAT.replace("version: 3", "version: three").replace(
            '"params.temperature"}', '"params.temprature"}'
        )
    )
    line = THERMOSTAT.splitlines().index("version: 3") + 1
    done = cli("lint", str(policy))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{policy}:{line}:10: error [invalid] version: Input should be a valid integer"
    ]


def test_lint_warnings_alone_exit_0_unless_strict(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(THERMOSTAT.replace('"params.temperature"}', '"params.temprature"}'))
    text = policy.read_text().splitlines()
    line = next(i for i, t in enumerate(text) if "params.temprature" in t) + 1
    column = text[line - 1].index("params.temprature") + 1
    done = cli("lint", str(policy))
    assert done.returncode == 0
    (printed,) = done.stdout.splitlines()
    assert printed.startswith(f"{policy}:{line}:{column}: warning [undeclared-param] ")
    assert cli("lint", "--strict", str(policy)).returncode == 1
    (report,) = json.loads(cli("lint", "--json", str(policy)).stdout)
    assert [(p["line"], p["column"], p["kind"]) for p in report["problems"]] == [
        (line, column, "undeclared-param")
    ]


def test_lint_passes_the_examples() -> None:
    policies = [str(p) for p in sorted(EXAMPLES.glob("*.yaml")) if ".test." not in p.name]
    done = cli("lint", *policies)
    assert (done.returncode, done.stdout) == (0, "")


def test_sign_refuses_a_policy_lint_finds_errors_in(tmp_path: Path) -> None:
    assert cli("keygen", "dev", home=tmp_path).returncode == 0
    good = tmp_path / "good.yaml"
    good.write_text(THERMOSTAT)
    signed = cli("sign", str(good), "--key", "dev", home=tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.count(".") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(THERMOSTAT + "rules: []\n")
    refused = cli("sign", str(bad), "--key", "dev", home=tmp_path)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert "has errors; not signed" in refused.stderr
    assert "error [duplicate-key] key 'rules' is repeated" in refused.stderr


def test_test_runs_the_examples_and_writes_junit(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    done = cli("test", str(EXAMPLES), "--junit", str(report))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    suites = ET.parse(report).getroot().findall("testsuite")
    assert len(suites) == 3
    assert all(s.get("failures") == "0" for s in suites)


def test_test_exits_1_and_prints_the_diff_on_failure(tmp_path: Path) -> None:
    (tmp_path / "thermostat.yaml").write_text(THERMOSTAT)
    (tmp_path / "thermostat.test.yaml").write_text(
        "cases:\n"
        "  - name: hot\n"
        "    caller: {sub: s1, roles: [sensor]}\n"
        "    command: report\n"
        "    params: {temperature: 35}\n"
        "    expect: {result: ok}\n"
    )
    done = cli("test", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"FAIL  {tmp_path / 'thermostat.test.yaml'}: hot",
        "      --- expected",
        "      +++ actual",
        "      @@ -1 +1 @@",
        "      -result: ok",
        "      +result: alarm",
        "0 passed, 1 failed",
    ]
