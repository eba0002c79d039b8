"""Offline schema validation of Kubernetes manifests, Dapr's custom resources included.

Built-in kinds are checked by `kubernetes-validate` (the Kubernetes OpenAPI schemas ship inside
the package, strict: unknown fields are errors). Dapr's kinds (Component, Configuration,
Resiliency, Subscription, ...) are checked against the `openAPIV3Schema` of the CRDs in the
pinned Dapr release that `make dapr` unpacks (`.dapr/src/dapr/charts/dapr/crds`), made strict
the same way: where a schema lists properties and does not preserve unknown fields, any other
field is an error, as `kubectl apply --validate=strict` would report it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support import ROOT

DAPR_CRDS = ROOT / ".dapr" / "src" / "dapr" / "charts" / "dapr" / "crds"
KUBERNETES_VERSION = "1.33"


class ManifestError(AssertionError):
    """A document does not match its kind's schema; the message names the document and path."""


@cache
def dapr_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, from the pinned Dapr release's CRDs."""
    if not DAPR_CRDS.is_dir():
        raise RuntimeError(f"{DAPR_CRDS} is missing: run `make dapr` (it unpacks the release)")
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(DAPR_CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                api_version = f"{spec['group']}/{version['name']}"
                schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schemas[(api_version, spec["names"]["kind"])] = schema
    return schemas


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Refuse unknown fields where the CRD lists its fields and does not say to keep others."""
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema.setdefault("additionalProperties", False)
    if schema.get("nullable"):
        kinds = schema.get("type")
        if isinstance(kinds, str):
            schema["type"] = [kinds, "null"]
    for key in ("properties", "patternProperties"):
        for child in schema.get(key, {}).values():
            _strict(child)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _strict(schema[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key, []):
            _strict(child)
    return schema


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            yield doc


def validate_document(doc: dict[str, Any]) -> None:
    """Raise `ManifestError` unless `doc` is valid for its apiVersion and kind."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    name = f"{kind} {((doc.get('metadata') or {}).get('name'))!r}"
    schema = dapr_schemas().get((str(api_version), str(kind)))
    if schema is not None:
        errors = sorted(
            jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path)
        )
        if errors:
            problems = "; ".join(
                f"{'/'.join(str(p) for p in e.path) or '(document)'}: {e.message}" for e in errors
            )
            raise ManifestError(f"{name}: {problems}")
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ManifestError(f"{name}: no schema for {api_version} {kind}") from exc
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path) or "(document)"
        raise ManifestError(f"{name}: {where}: {exc.message}") from exc


def validate_file(path: Path) -> int:
    """Validate every document in `path`; the number validated."""
    count = 0
    for doc in documents(path):
        validate_document(doc)
        count += 1
    return count
