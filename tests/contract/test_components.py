"""Loading of Dapr resource YAMLs (components, subscriptions, HTTP endpoints) by localdapr."""

from __future__ import annotations

from pathlib import Path

import pytest

from localdapr._components import ResourceError, load_resources
from tests.contract.nonactor import STATIC
from tests.support import Proc, free_port, python_argv


def write(path: Path, name: str, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_text(text)
    return path


def test_static_test_resources_load_with_scopes_applied() -> None:
    res = load_resources(STATIC, app_id="contract")
    assert {c.name for c in res.of_family("state")} == {"kvstore", "unprefixed"}
    assert [c.name for c in res.of_family("pubsub")] == ["pubsub"]
    topics = {s.topic: s.rules for s in res.subscriptions}
    assert topics == {
        "declared": (("", "/events/declared"),),
        "declared-v1": (("", "/events/declared-v1"),),
    }
    other = load_resources(STATIC, app_id="some-other-app")
    assert "otherappstore" in {c.name for c in other.components}


def test_no_resources_path_means_no_resources() -> None:
    assert load_resources(None, app_id="a").components == ()


def test_metadata_values_env_refs_and_http_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALDAPR_TEST_URL", "http://127.0.0.1:9")
    write(
        tmp_path,
        "all.yml",
        """
kind: Component
metadata: {name: web}
spec:
  type: bindings.http
  metadata:
    - {name: url, envRef: LOCALDAPR_TEST_URL}
    - {name: errorIfNot2XX, value: false}
    - {name: retries, value: 3}
---
kind: HTTPEndpoint
metadata: {name: peer}
spec:
  baseUrl: http://127.0.0.1:1234/
  headers: [{name: x-h, value: v}]
""",
    )
    res = load_resources(tmp_path, app_id="a")
    (web,) = res.components
    assert web.metadata == {"url": "http://127.0.0.1:9", "errorIfNot2XX": "false", "retries": "3"}
    (peer,) = res.http_endpoints
    assert (peer.base_url, peer.headers) == ("http://127.0.0.1:1234", {"x-h": "v"})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind: Component\nmetadata: {name: x\n", "cannot read resource YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("kind: Component\nmetadata: {name: x}\nspec: {type: nodot}\n", "spec.type"),
        ("kind: Component\nspec: {type: state.x}\n", "metadata.name is required"),
        ("kind: Subscription\nmetadata: {name: s}\nspec: {pubsubname: p, topic: t}\n", "no route"),
        ("kind: HTTPEndpoint\nmetadata: {name: e}\nspec: {baseUrl: ftp://x}\n", "baseUrl"),
    ],
)
def test_bad_resources_name_the_file(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path, "broken.yaml", text)
    with pytest.raises(ResourceError, match=needle) as caught:
        load_resources(tmp_path, app_id="a")
    assert "broken.yaml" in str(caught.value)


def test_sidecar_refuses_to_start_on_a_bad_resource_file(tmp_path: Path) -> None:
    resources = write(tmp_path / "res", "oops.yaml", "kind: Component\nmetadata: [unclosed\n")
    argv = python_argv(
        *("-m", "localdapr", "--app-id", "a", "--app-port", str(free_port())),
        *("--dapr-http-port", str(free_port()), "--db", str(tmp_path / "db.sqlite")),
        *("--resources-path", str(resources)),
    )
    proc = Proc(argv, log=tmp_path / "sidecar.log").start()
    assert proc.popen is not None
    try:
        code = proc.popen.wait(timeout=30)
    finally:
        proc.kill()
    assert code != 0
    assert "oops.yaml" in proc.output()
