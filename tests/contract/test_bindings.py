"""Output bindings of localdapr: bindings.http against a real peer, bindings.localstorage."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.nonactor import APP, subscriber_pair
from tests.contract.pair import SidecarPair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sidecar: str) -> Iterator[SidecarPair]:
    with subscriber_pair(tmp_path_factory.mktemp("bindings"), sidecar=sidecar) as (
        pair,
        _peer,
    ):
        yield pair


@pytest.fixture(scope="module")
def dapr(pair: SidecarPair) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pair.dapr_url, timeout=10.0) as client:
        yield client


def invoke(dapr: httpx.Client, name: str, **body: Any) -> httpx.Response:
    return dapr.post(f"/v1.0/bindings/{name}", json=body)


def assert_error(
    resp: httpx.Response, status: int, code: str = "ERR_INVOKE_OUTPUT_BINDING"
) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["errorCode"] == code


def test_http_post_sends_json_data_path_and_capitalised_headers(dapr: httpx.Client) -> None:
    meta = {"path": "/echo/orders", "X-Trace-Me": "yes", "lowercase": "not-a-header"}
    resp = invoke(dapr, "peerhttp", operation="post", data={"n": 1}, metadata=meta)
    assert resp.status_code == 200, resp.text
    seen = resp.json()
    assert (seen["method"], seen["path"]) == ("POST", "/echo/orders")
    assert seen["body"] == '{"n":1}'
    assert seen["headers"]["x-trace-me"] == "yes"
    assert "lowercase" not in seen["headers"]
    assert seen["headers"]["content-type"].startswith("application/json")
    assert resp.headers["metadata.statuscode"] == "200"
    assert resp.headers["metadata.x-echo"] == "yes"


def test_http_string_data_arrives_json_encoded(dapr: httpx.Client) -> None:
    resp = invoke(dapr, "peerhttp", operation="create", data="hi", metadata={"path": "echo/x"})
    assert resp.json()["body"] == '"hi"'


def test_http_get_sends_no_body(dapr: httpx.Client) -> None:
    resp = invoke(
        dapr, "peerhttp", operation="get", data={"ignored": True}, metadata={"path": "echo/g"}
    )
    assert (resp.json()["method"], resp.json()["body"]) == ("GET", "")


def test_http_non_2xx_is_an_error_carrying_the_metadata(dapr: httpx.Client) -> None:
    resp = invoke(dapr, "peerhttp", operation="get", metadata={"path": "echo/x?status=418"})
    assert_error(resp, 500)
    assert "418" in resp.json()["message"]
    assert resp.headers["metadata.statuscode"] == "418"


def test_http_error_if_not_2xx_false_returns_the_body(dapr: httpx.Client) -> None:
    meta = {"path": "echo/x?status=418", "errorIfNot2XX": "false"}
    resp = invoke(dapr, "peerhttp", operation="delete", metadata=meta)
    assert resp.status_code == 200
    assert resp.json()["method"] == "DELETE"
    assert resp.headers["metadata.statuscode"] == "418"


def test_localstorage_create_get_list_delete(dapr: httpx.Client, pair: SidecarPair) -> None:
    name = f"dir/{uuid.uuid4().hex}.txt"
    created = invoke(dapr, "files", operation="create", data="hello", metadata={"fileName": name})
    assert created.json() == {"fileName": name}
    assert (pair.workdir / "files" / name).read_text() == "hello"
    got = invoke(dapr, "files", operation="get", metadata={"fileName": name})
    assert got.content == b"hello"
    listed = invoke(dapr, "files", operation="list", metadata={"fileName": "dir"})
    assert str(pair.workdir / "files" / name) in listed.json()
    deleted = invoke(dapr, "files", operation="delete", metadata={"fileName": name})
    assert deleted.status_code == 204
    assert_error(invoke(dapr, "files", operation="get", metadata={"fileName": name}), 500)


def test_localstorage_decodes_base64_and_names_files_itself(
    dapr: httpx.Client, pair: SidecarPair
) -> None:
    data = base64.b64encode(b"\x00binary\xff").decode()
    created = invoke(dapr, "files", operation="create", data=data)
    file = Path(pair.workdir / "files" / created.json()["fileName"])
    assert file.read_bytes() == b"\x00binary\xff"


@pytest.mark.parametrize(
    ("name", "clamped"),
    [("../escape.txt", "escape.txt"), ("/etc/passwd", "etc/passwd"), ("a/../../b", "b")],
)
def test_localstorage_clamps_paths_inside_the_root(
    dapr: httpx.Client, pair: SidecarPair, name: str, clamped: str
) -> None:
    """As daprd's securejoin does: the root acts as `/`, nothing is written outside it."""
    marker = f"not-base64 {uuid.uuid4()}"
    resp = invoke(dapr, "files", operation="create", data=marker, metadata={"fileName": name})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"fileName": clamped}
    assert (pair.workdir / "files" / clamped).read_text() == marker
    assert not (pair.workdir / "escape.txt").exists()


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "needle"),
    [
        ("nope", {"operation": "get"}, 500, "ERR_INVOKE_OUTPUT_BINDING", "couldn't find output"),
        ("unserved", {"operation": "create"}, 500, "ERR_INVOKE_OUTPUT_BINDING", "couldn't find"),
        ("files", {"operation": "upload"}, 500, "ERR_INVOKE_OUTPUT_BINDING", "does not support"),
        ("files", {"data": 1}, 500, "ERR_INVOKE_OUTPUT_BINDING", "operation field is missing"),
        ("files", [1], 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body"),
        ("files", {"operation": "get", "metadata": {"x": 1}}, 400, "ERR_MALFORMED_REQUEST", ""),
    ],
)
def test_bad_binding_requests_get_daprds_answers(
    dapr: httpx.Client, name: str, body: object, status: int, code: str, needle: str
) -> None:
    """daprd answers a malformed body 400 and every failed binding call 500 (the binding's
    own reason in the message), a missing binding included."""
    resp = dapr.post(f"/v1.0/bindings/{name}", json=body)
    assert_error(resp, status, code)
    assert needle in resp.json()["message"]


def test_a_component_the_sidecar_cannot_build_stops_it(tmp_path: Path, sidecar: str) -> None:
    """Without `ignoreErrors: true` an unserved component type is fatal on daprd; so on
    localdapr, rather than a sidecar that starts without it."""
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "kafka.yaml").write_text(_KAFKA)
    pair = SidecarPair(APP, tmp_path, resources_path=resources, sidecar=sidecar)
    with pytest.raises(RuntimeError, match="kafka"):
        pair.start()
    pair.stop()


_KAFKA = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: events
spec:
  type: bindings.kafka
  version: v1
"""


def test_invalid_json_is_400(dapr: httpx.Client) -> None:
    resp = dapr.post("/v1.0/bindings/files", content=b"{nope")
    assert_error(resp, 400, "ERR_MALFORMED_REQUEST")


def test_metadata_lists_the_bindings(dapr: httpx.Client) -> None:
    types = {c["name"]: c["type"] for c in dapr.get("/v1.0/metadata").json()["components"]}
    assert types["peerhttp"] == "bindings.http"
    assert types["files"] == "bindings.localstorage"
