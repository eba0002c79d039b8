"""Reporting policy test results: a readable summary for people, JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ._policytest import SuiteResult


def summary(results: Sequence[SuiteResult]) -> str:
    """One line per case (`ok`/`FAIL`), each failure's diff indented under it, and totals."""
    lines: list[str] = []
    passed = failed = 0
    for suite in results:
        if suite.error is not None:
            failed += 1
            lines.append(f"ERROR {suite.file}: {suite.error}")
            continue
        for case in suite.cases:
            if case.passed:
                passed += 1
                lines.append(f"ok    {suite.file}: {case.name}")
            else:
                failed += 1
                lines.append(f"FAIL  {suite.file}: {case.name}")
                lines.extend("      " + line for line in case.diff.splitlines())
    lines.append(f"{passed} passed, {failed} failed")
    return "\n".join(lines)


def junit_xml(results: Sequence[SuiteResult]) -> str:
    """The results as a JUnit XML report (one <testsuite> per test file)."""
    root = ET.Element("testsuites", name="resident test")
    for suite in results:
        failures = sum(not c.passed for c in suite.cases)
        node = ET.SubElement(
            root,
            "testsuite",
            name=suite.file,
            tests=str(len(suite.cases) or 1),
            failures=str(failures),
            errors=str(int(suite.error is not None)),
            time=f"{sum(c.seconds for c in suite.cases):.6f}",
        )
        if suite.error is not None:
            case = ET.SubElement(node, "testcase", name="(load)", classname=suite.file)
            ET.SubElement(case, "error", message=suite.error).text = suite.error
        for result in suite.cases:
            case = ET.SubElement(
                node,
                "testcase",
                name=result.name,
                classname=suite.file,
                time=f"{result.seconds:.6f}",
            )
            if not result.passed:
                ET.SubElement(case, "failure", message="expectation not met").text = result.diff
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
