"""Every manifest we ship is valid for its kind: Kubernetes' own schemas and the pinned Dapr
release's CRDs, offline (no cluster here). The validator must also catch what a typo does."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.manifests import ManifestError, documents, validate_document, validate_file
from tests.support import ROOT

SHIPPED = [
    ROOT / "deploy" / "kubernetes.yaml",
    *sorted((ROOT / "app" / "components").glob("*.yaml")),
]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_manifest_validates(path: Path) -> None:
    assert validate_file(path) >= 1


def test_the_deployment_holds_every_kind_it_needs() -> None:
    kinds = {d["kind"] for d in documents(ROOT / "deploy" / "kubernetes.yaml")}
    expected = {"Deployment", "Service", "Secret", "ConfigMap", "Component", "Configuration"}
    assert expected | {"Resiliency"} <= kinds


def _doc(kind: str) -> dict[str, object]:
    (doc,) = [d for d in documents(ROOT / "deploy" / "kubernetes.yaml") if d["kind"] == kind][:1]
    return copy.deepcopy(doc)


def test_a_misspelt_deployment_field_is_refused() -> None:
    doc = _doc("Deployment")
    spec = doc["spec"]
    assert isinstance(spec, dict)
    spec["replica"] = spec.pop("replicas")
    with pytest.raises(ManifestError, match="replica"):
        validate_document(doc)


def test_a_wrong_type_in_a_container_is_refused() -> None:
    doc = _doc("Deployment")
    container = doc["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    container["ports"] = [{"containerPort": "eight thousand"}]
    with pytest.raises(ManifestError, match=r"containerPort|eight thousand"):
        validate_document(doc)


def test_a_misspelt_dapr_component_field_is_refused() -> None:
    doc = _doc("Component")
    spec = doc["spec"]
    assert isinstance(spec, dict)
    spec["metdata"] = spec.pop("metadata")
    with pytest.raises(ManifestError, match="metdata"):
        validate_document(doc)


def test_a_dapr_resource_missing_a_required_field_is_refused() -> None:
    doc = _doc("Component")
    spec = doc["spec"]
    assert isinstance(spec, dict)
    del spec["version"]
    with pytest.raises(ManifestError, match="version"):
        validate_document(doc)


def test_an_unknown_kind_is_refused_rather_than_passed() -> None:
    doc = {"apiVersion": "dapr.io/v1alpha1", "kind": "Componnent", "metadata": {"name": "x"}}
    with pytest.raises(ManifestError, match="no schema"):
        validate_document(doc)
