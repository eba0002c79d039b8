"""`resident schema`, `resident lint` and `resident test`: the policy authoring kit, offline.

Kept apart from `app.cli` so the authoring commands stay one room; `app.cli.build_parser`
adds them with `add_authoring_commands`, and `resident sign` calls `refuse_lint_errors`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from policies import (
    discover,
    has_errors,
    junit_xml,
    lint_text,
    run_suite,
    schema_text,
    summary,
)

from .httpclient import CliError


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text(tests=args.tests))
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    """Every problem of every file, then exit 1 if any is an error (`--strict`: or a warning)."""
    failed = False
    reports = []
    for name in args.files:
        problems = lint_text(_text(Path(name)))
        failed = failed or has_errors(problems) or (args.strict and bool(problems))
        if args.json:
            reports.append({"file": name, "problems": [p.to_dict() for p in problems]})
        else:
            for problem in problems:
                print(problem.format(name))
    if args.json:
        print(json.dumps(reports, indent=2))
    return 1 if failed else 0


def refuse_lint_errors(path: Path) -> None:
    """Raise CliError listing the errors `resident lint` finds (warnings are printed)."""
    problems = lint_text(_text(path))
    for problem in problems:
        if problem.severity == "warning":
            print(problem.format(str(path)), file=sys.stderr)
    if has_errors(problems):
        listed = "\n".join(p.format(str(path)) for p in problems if p.severity == "error")
        raise CliError(f"{path} has errors; not signed:\n{listed}")


def cmd_test(args: argparse.Namespace) -> int:
    results = [run_suite(test_file) for name in args.paths for test_file in discover(Path(name))]
    if not results:
        raise CliError(f"no *.test.yaml under {', '.join(args.paths)}")
    print(summary(results))
    if args.junit:
        Path(args.junit).write_text(junit_xml(results), encoding="utf-8")
    return 0 if all(r.passed for r in results) else 1


def add_authoring_commands(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of a policy file")
    p.add_argument("--tests", action="store_true", help="of a policy test file instead")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("lint", help="check policy files offline: errors and warnings")
    p.add_argument("files", nargs="+")
    p.add_argument("--json", action="store_true", help="print the problems as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.set_defaults(func=cmd_lint)
    p = sub.add_parser("test", help="run policy unit tests (*.test.yaml) offline")
    p.add_argument("paths", nargs="+", help="test files, or directories to search")
    p.add_argument("--junit", help="also write a JUnit XML report to this file")
    p.set_defaults(func=cmd_test)
