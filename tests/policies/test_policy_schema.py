"""The JSON Schema for editors: generated from the model, shipped, and true to the examples."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from policies import SCHEMA_FILE, TEST_SCHEMA_FILE, lint_text, policy_schema, schema_text
from tests.support import ROOT

POLICIES = sorted(
    p for p in (ROOT / "policies" / "examples").glob("*.yaml") if not p.name.endswith(".test.yaml")
)


def test_the_shipped_file_is_the_generated_schema() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), "regenerate: resident schema > " + str(
        SCHEMA_FILE.relative_to(ROOT)
    )


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(policy_schema())


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.name)
def test_every_example_validates(path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []


def test_a_misspelt_key_is_flagged_by_the_schema_and_by_lint_at_its_line() -> None:
    text = (ROOT / "policies" / "examples" / "thermostat.yaml").read_text()
    typo = text.replace("\npermissions:", "\npermisions:")
    line = typo.splitlines().index("permisions:") + 1
    validator = jsonschema.Draft202012Validator(policy_schema())
    (error,) = validator.iter_errors(yaml.safe_load(typo))
    assert "'permisions' was unexpected" in error.message
    (problem,) = lint_text(typo)
    assert (problem.line, problem.column, problem.severity) == (line, 1, "error")
    assert problem.message == "permisions: Extra inputs are not permitted"


def test_iss_and_iat_are_optional_because_signing_fills_them() -> None:
    assert set(policy_schema()["required"]) == {"id", "version", "objects"}


def test_the_test_file_schema_is_shipped_and_fits_the_example_tests() -> None:
    assert TEST_SCHEMA_FILE.read_text() == schema_text(tests=True)
    validator = jsonschema.Draft202012Validator(json.loads(schema_text(tests=True)))
    tests = sorted((ROOT / "policies" / "examples").glob("*.test.yaml"))
    assert len(tests) == 3
    for path in tests:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    (error,) = validator.iter_errors({"cases": [{"name": "x", "cycle": True, "expect": {"x": 1}}]})
    assert "'x' was unexpected" in error.message
