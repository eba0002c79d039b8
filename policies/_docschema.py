"""The JSON Schema of a policy file, generated from the pydantic model (one source of truth).

Editors use it for completion and validation (`# yaml-language-server: $schema=...`). It
describes the file an author writes, so `iss` and `iat`, which signing fills in, are optional.
The package ships the generated text as `policy.schema.json`; a test keeps the two equal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._model import PolicyDocument
from ._testfile import Suite

SCHEMA_FILE = Path(__file__).resolve().parent / "policy.schema.json"
TEST_SCHEMA_FILE = Path(__file__).resolve().parent / "policy-test.schema.json"
_FILLED_AT_SIGNING = ("iss", "iat")


def policy_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy document as written."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["required"] = [n for n in schema.get("required", []) if n not in _FILLED_AT_SIGNING]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://resident.invalid/policy.schema.json",
        **schema,
        "title": "Resident policy",
        "description": (
            "A Resident policy document before signing (`resident sign` fills iss and iat). "
            "Generated from policies._model.PolicyDocument by `resident schema`."
        ),
    }


def policy_test_schema() -> dict[str, Any]:
    """The JSON Schema of a policy unit-test file (`NAME.test.yaml`)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://resident.invalid/policy-test.schema.json",
        **Suite.model_json_schema(),
        "title": "Resident policy tests",
        "description": "Unit tests for a policy, run by `resident test`.",
    }


def schema_text(*, tests: bool = False) -> str:
    """`policy_schema()` (or `policy_test_schema()`) as the shipped file spells it."""
    return json.dumps(policy_test_schema() if tests else policy_schema(), indent=2) + "\n"
