"""Service invocation through localdapr: the Dapr SDK's HTTP invocation client and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from dapr.clients.exceptions import DaprHttpError
from dapr.clients.http.dapr_invocation_http_client import DaprInvocationHttpClient

from tests.contract.nonactor import subscriber_pair
from tests.contract.pair import SidecarPair, sdk_settings
from tests.support import free_port


@pytest.fixture(scope="module")
def pair_and_peer(
    tmp_path_factory: pytest.TempPathFactory, sidecar: str
) -> Iterator[tuple[SidecarPair, str]]:
    with subscriber_pair(tmp_path_factory.mktemp("invoke"), sidecar=sidecar) as (pair, peer):
        yield pair, peer


@pytest.fixture(scope="module")
def dapr(pair_and_peer: tuple[SidecarPair, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pair_and_peer[0].dapr_url, timeout=10.0) as client:
        yield client


@pytest.fixture
def sdk(pair_and_peer: tuple[SidecarPair, str]) -> DaprInvocationHttpClient:
    sdk_settings(pair_and_peer[0])
    return DaprInvocationHttpClient(timeout=10)


async def test_sdk_invokes_own_app_passing_verb_path_query_headers_body(
    sdk: DaprInvocationHttpClient,
) -> None:
    resp = await sdk.invoke_method_async(
        "contract",
        "echo/orders/7",
        data=b'{"a": 1}',
        content_type="application/json",
        metadata=(("x-custom", "c"),),
        http_verb="PUT",
        http_querystring=(("q", "1"), ("r", "two")),
    )
    assert resp.status_code == 200
    seen = resp.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("PUT", "/echo/orders/7", "q=1&r=two")
    assert seen["body"] == '{"a": 1}'
    assert seen["headers"]["x-custom"] == "c"
    assert seen["headers"]["content-type"] == "application/json"
    assert {k.lower(): v for k, v in resp.headers.items()}["x-echo"] == ["yes"]


async def test_sdk_sees_unknown_app_id_as_dapr_error(sdk: DaprInvocationHttpClient) -> None:
    with pytest.raises(DaprHttpError) as caught:
        await sdk.invoke_method_async("no-such-app", "echo/x", data=b"")
    assert caught.value.status_code == 500
    assert caught.value.error_code == "ERR_DIRECT_INVOKE"


@pytest.mark.parametrize("verb", ["GET", "POST", "DELETE", "PATCH"])
def test_every_verb_reaches_the_app(dapr: httpx.Client, verb: str) -> None:
    resp = dapr.request(verb, "/v1.0/invoke/contract/method/echo/v", content=b"b")
    assert resp.json()["method"] == verb


def test_app_status_and_body_pass_through(dapr: httpx.Client) -> None:
    resp = dapr.post("/v1.0/invoke/contract/method/echo/fail?status=418", content=b"x")
    assert resp.status_code == 418
    assert resp.json()["path"] == "/echo/fail"


def test_the_callers_api_token_is_not_forwarded(tmp_path: Path, sidecar: str) -> None:
    env = {"DAPR_API_TOKEN": "sidecar-secret"}
    with subscriber_pair(tmp_path, sidecar=sidecar, sidecar_env=env) as (pair, _peer):
        headers = {"dapr-api-token": "sidecar-secret"}
        url = f"{pair.dapr_url}/v1.0/invoke/contract/method/echo/t"
        seen = httpx.get(url, headers=headers, timeout=10).json()["headers"]
        assert "dapr-api-token" not in seen
        assert httpx.get(url, headers={"dapr-api-token": "wrong"}).status_code == 401


def test_httpendpoint_peer_gets_path_query_and_its_headers(dapr: httpx.Client) -> None:
    resp = dapr.post("/v1.0/invoke/peer/method/echo/p?x=1", content=b"hello")
    seen = resp.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/echo/p", "x=1")
    assert seen["body"] == "hello"
    assert seen["headers"]["x-endpoint-header"] == "from-httpendpoint"


def test_url_encoded_base_url_as_app_id(
    dapr: httpx.Client, pair_and_peer: tuple[SidecarPair, str]
) -> None:
    target = quote(pair_and_peer[1], safe="")
    resp = dapr.get(f"/v1.0/invoke/{target}/method/echo/u")
    assert resp.json()["path"] == "/echo/u"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v1.0/invoke/no-such-app/method/x", 500),
        (f"/v1.0/invoke/{quote(f'http://127.0.0.1:{free_port()}', safe='')}/method/x", 500),
        ("/v1.0/invoke/contract/echo", 404),
    ],
)
def test_unresolvable_or_unreachable_targets_are_dapr_errors(
    dapr: httpx.Client, url: str, status: int
) -> None:
    resp = dapr.get(url)
    assert resp.status_code == status, resp.text
    assert resp.json()["errorCode"] == "ERR_DIRECT_INVOKE"


def test_metadata_lists_http_endpoints(dapr: httpx.Client) -> None:
    assert {"name": "peer"} in dapr.get("/v1.0/metadata").json()["httpEndpoints"]
