"""The two sidecars every contract and e2e test runs on: localdapr and the real daprd.

`sidecar` is a session-scoped parameter, so pytest runs each tier once per sidecar (grouped, so
a module-scoped host is started once per sidecar). Tests on daprd carry the `daprd` marker;
the end-of-run summary counts what passed on each.
"""

from __future__ import annotations

from collections import Counter

import pytest

SIDECARS = ["localdapr", pytest.param("daprd", marks=pytest.mark.daprd)]


@pytest.fixture(scope="session", params=SIDECARS)
def sidecar(request: pytest.FixtureRequest) -> str:
    """Which sidecar the test's apps run under: "localdapr" or "daprd"."""
    return str(request.param)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Record which sidecar each contract/e2e test runs on, for the summary."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("sidecar") in {"localdapr", "daprd"}:
            kind = str(params["sidecar"])
        elif item.get_closest_marker("daprd") is not None:
            kind = "daprd"
        elif "/tests/contract/" in str(item.path) or "/tests/e2e/" in str(item.path):
            kind = "localdapr"
        else:
            continue
        item.user_properties.append(("sidecar", kind))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if outcome == "passed" and getattr(report, "when", "call") != "call":
                continue
            kind = dict(getattr(report, "user_properties", ())).get("sidecar")
            if kind:
                counts[(kind, outcome)] += 1
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            text = dict(getattr(report, "user_properties", ())).get("report")
            if text and getattr(report, "when", "call") == "call":
                terminalreporter.section(f"report of {report.nodeid}")
                terminalreporter.write_line(str(text))
    if counts:
        terminalreporter.section("contract and e2e tests by sidecar")
        for kind in ("daprd", "localdapr"):
            line = ", ".join(f"{counts[(kind, o)]} {o}" for o in ("passed", "failed", "error"))
            terminalreporter.write_line(f"{kind:>9}: {line}")
