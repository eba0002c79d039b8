"""Output bindings of localdapr: bindings.http against a real peer, bindings.localstorage."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.nonactor import subscriber_pair
from tests.contract.pair import SidecarPair


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SidecarPair]:
    with subscriber_pair(tmp_path_factory.mktemp("bindings")) as (pair, _peer):
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


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b"])
def test_localstorage_refuses_paths_outside_the_root(dapr: httpx.Client, name: str) -> None:
    resp = invoke(dapr, "files", operation="create", data="x", metadata={"fileName": name})
    assert_error(resp, 400)
    assert "outside rootPath" in resp.json()["message"]


@pytest.mark.parametrize(
    ("name", "body", "code", "needle"),
    [
        ("nope", {"operation": "get"}, "ERR_INVOKE_OUTPUT_BINDING", "couldn't find output binding"),
        ("unserved", {"operation": "create"}, "ERR_INVOKE_OUTPUT_BINDING", "not served"),
        ("files", {"operation": "upload"}, "ERR_INVOKE_OUTPUT_BINDING", "does not support"),
        ("files", {"data": 1}, "ERR_INVOKE_OUTPUT_BINDING", "operation field is missing"),
        ("files", [1], "ERR_MALFORMED_REQUEST", "body must be"),
        ("files", {"operation": "get", "metadata": {"fileName": 1}}, "ERR_MALFORMED_REQUEST", ""),
    ],
)
def test_bad_binding_requests_are_400(
    dapr: httpx.Client, name: str, body: object, code: str, needle: str
) -> None:
    resp = dapr.post(f"/v1.0/bindings/{name}", json=body)
    assert_error(resp, 400, code)
    assert needle in resp.json()["message"]


def test_invalid_json_is_400(dapr: httpx.Client) -> None:
    resp = dapr.post("/v1.0/bindings/files", content=b"{nope")
    assert_error(resp, 400, "ERR_MALFORMED_REQUEST")


def test_metadata_lists_the_bindings(dapr: httpx.Client) -> None:
    types = {c["name"]: c["type"] for c in dapr.get("/v1.0/metadata").json()["components"]}
    assert types["peerhttp"] == "bindings.http"
    assert types["files"] == "bindings.localstorage"
