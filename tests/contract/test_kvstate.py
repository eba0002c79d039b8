"""Key/value state API of localdapr, driven over HTTP exactly as Dapr documents it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.contract.nonactor import subscriber_pair
from tests.contract.pair import SidecarPair
from tests.support import eventually


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sidecar: str) -> Iterator[SidecarPair]:
    with subscriber_pair(tmp_path_factory.mktemp("kvstate"), sidecar=sidecar) as (pair, _peer):
        yield pair


@pytest.fixture(scope="module")
def dapr(pair: SidecarPair) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pair.dapr_url, timeout=10.0) as client:
        yield client


def key() -> str:
    return f"k-{uuid.uuid4().hex[:8]}"


def save(dapr: httpx.Client, *items: dict[str, Any], store: str = "kvstore") -> httpx.Response:
    return dapr.post(f"/v1.0/state/{store}", json=list(items))


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["errorCode"] == code, resp.text
    assert resp.json()["message"]


def test_save_then_get_round_trips_value_with_etag(dapr: httpx.Client) -> None:
    k = key()
    assert save(dapr, {"key": k, "value": {"n": 1, "s": "x"}}).status_code == 204
    got = dapr.get(f"/v1.0/state/kvstore/{k}")
    assert got.status_code == 200
    assert got.json() == {"n": 1, "s": "x"}
    assert got.headers["etag"]


def test_absent_key_is_204_with_empty_body(dapr: httpx.Client) -> None:
    got = dapr.get(f"/v1.0/state/kvstore/{key()}")
    assert (got.status_code, got.content) == (204, b"")


def test_stale_etag_is_409_and_current_etag_wins(dapr: httpx.Client) -> None:
    k = key()
    save(dapr, {"key": k, "value": 1})
    etag = dapr.get(f"/v1.0/state/kvstore/{k}").headers["etag"]
    assert_error(save(dapr, {"key": k, "value": 2, "etag": "stale"}), 409, "ERR_STATE_SAVE")
    assert save(dapr, {"key": k, "value": 3, "etag": etag}).status_code == 204
    after = dapr.get(f"/v1.0/state/kvstore/{k}")
    assert after.json() == 3
    assert after.headers["etag"] != etag
    assert_error(save(dapr, {"key": k, "value": 4, "etag": etag}), 409, "ERR_STATE_SAVE")


def test_first_write_without_etag_conflicts_only_on_existing_key(dapr: httpx.Client) -> None:
    k = key()
    first = {"key": k, "value": "a", "options": {"concurrency": "first-write"}}
    assert save(dapr, first).status_code == 204
    assert_error(save(dapr, {**first, "value": "b"}), 409, "ERR_STATE_SAVE")
    assert dapr.get(f"/v1.0/state/kvstore/{k}").json() == "a"
    last = {"key": k, "value": "c", "options": {"concurrency": "last-write"}}
    assert save(dapr, last).status_code == 204


def test_save_of_several_items_saves_each_on_its_own(dapr: httpx.Client) -> None:
    k1, k2 = key(), key()
    resp = save(dapr, {"key": k1, "value": 1}, {"key": k2, "value": 2, "etag": "nope"})
    assert_error(resp, 409, "ERR_STATE_SAVE")
    # daprd's bulk save is per item, not a transaction: the good item is kept.
    assert dapr.get(f"/v1.0/state/kvstore/{k1}").json() == 1
    assert dapr.get(f"/v1.0/state/kvstore/{k2}").status_code == 204


def test_delete_honours_if_match(dapr: httpx.Client) -> None:
    k = key()
    save(dapr, {"key": k, "value": 1})
    etag = dapr.get(f"/v1.0/state/kvstore/{k}").headers["etag"]
    stale = dapr.delete(f"/v1.0/state/kvstore/{k}", headers={"If-Match": "stale"})
    assert_error(stale, 409, "ERR_STATE_DELETE")
    assert dapr.delete(f"/v1.0/state/kvstore/{k}", headers={"If-Match": etag}).status_code == 204
    assert dapr.get(f"/v1.0/state/kvstore/{k}").status_code == 204
    assert dapr.delete(f"/v1.0/state/kvstore/{k}").status_code == 204


def test_bulk_get_returns_present_and_absent_keys(dapr: httpx.Client) -> None:
    k1, k2, absent = key(), key(), key()
    save(dapr, {"key": k1, "value": {"a": 1}}, {"key": k2, "value": [1, 2]})
    resp = dapr.post("/v1.0/state/kvstore/bulk", json={"keys": [k1, absent, k2], "parallelism": 2})
    assert resp.status_code == 200
    items = resp.json()
    by_key = {i["key"]: i for i in items}  # daprd answers in no particular order
    assert sorted(by_key) == sorted([k1, absent, k2])
    assert (by_key[k1]["data"], by_key[k2]["data"]) == ({"a": 1}, [1, 2])
    assert by_key[k1]["etag"]
    assert by_key[k2]["etag"]
    assert "data" not in by_key[absent]


def test_transaction_is_all_or_nothing(dapr: httpx.Client) -> None:
    a, b = key(), key()
    save(dapr, {"key": a, "value": "old"})
    ops = [
        {"operation": "upsert", "request": {"key": b, "value": "new"}},
        {"operation": "upsert", "request": {"key": a, "value": "x", "etag": "stale"}},
    ]
    failed = dapr.post("/v1.0/state/kvstore/transaction", json={"operations": ops})
    assert_error(failed, 500, "ERR_STATE_TRANSACTION")
    assert dapr.get(f"/v1.0/state/kvstore/{b}").status_code == 204
    etag = dapr.get(f"/v1.0/state/kvstore/{a}").headers["etag"]
    ops = [
        {"operation": "upsert", "request": {"key": b, "value": "new"}},
        {"operation": "delete", "request": {"key": a, "etag": etag}},
    ]
    ok = dapr.post("/v1.0/state/kvstore/transaction", json={"operations": ops, "metadata": {}})
    assert ok.status_code == 204
    assert dapr.get(f"/v1.0/state/kvstore/{b}").json() == "new"
    assert dapr.get(f"/v1.0/state/kvstore/{a}").status_code == 204


def test_ttl_in_seconds_expires_the_item(dapr: httpx.Client) -> None:
    k = key()
    assert save(dapr, {"key": k, "value": 1, "metadata": {"ttlInSeconds": "1"}}).status_code == 204
    got = dapr.get(f"/v1.0/state/kvstore/{k}")
    assert got.status_code == 200
    assert got.headers["metadata.ttlexpiretime"].endswith("Z")
    eventually(lambda: dapr.get(f"/v1.0/state/kvstore/{k}").status_code == 204, timeout=5)


def test_the_key_separator_is_refused_in_every_store(dapr: httpx.Client) -> None:
    for store in ("kvstore", "unprefixed"):
        resp = save(dapr, {"key": "a||b", "value": 1}, store=store)
        assert_error(resp, 400, "ERR_MALFORMED_REQUEST")


def test_key_prefix_none_stores_the_bare_key(dapr: httpx.Client) -> None:
    k = key()
    assert save(dapr, {"key": k, "value": 1}, store="unprefixed").status_code == 204
    assert dapr.get(f"/v1.0/state/unprefixed/{k}").json() == 1
    assert dapr.get(f"/v1.0/state/kvstore/{k}").status_code == 204  # prefixed: another key


@pytest.mark.parametrize("store", ["nope", "otherappstore"])
def test_unknown_or_out_of_scope_store_is_400(dapr: httpx.Client, store: str) -> None:
    assert_error(
        save(dapr, {"key": "k", "value": 1}, store=store), 400, "ERR_STATE_STORE_NOT_FOUND"
    )
    resp = dapr.get(f"/v1.0/state/{store}/k")
    assert_error(resp, 400, "ERR_STATE_STORE_NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1.0/state/kvstore", b"{not json", "ERR_MALFORMED_REQUEST"),
        ("/v1.0/state/kvstore", b'{"key": "k", "value": 1}', "ERR_MALFORMED_REQUEST"),
        ("/v1.0/state/kvstore", b'[{"value": 1}]', "ERR_MALFORMED_REQUEST"),
        ("/v1.0/state/kvstore", b'[{"key": "k", "etag": 5}]', "ERR_MALFORMED_REQUEST"),
        ("/v1.0/state/kvstore/bulk", b'{"keys": "k"}', "ERR_MALFORMED_REQUEST"),
        ("/v1.0/state/kvstore/transaction", b"[]", "ERR_MALFORMED_REQUEST"),
        (
            "/v1.0/state/kvstore/transaction",
            b'{"operations": [{"operation": "merge", "request": {"key": "k"}}]}',
            "ERR_NOT_SUPPORTED_STATE_OPERATION",
        ),
    ],
)
def test_malformed_requests_get_dapr_style_400(
    dapr: httpx.Client, path: str, body: bytes, code: str
) -> None:
    resp = dapr.post(path, content=body, headers={"content-type": "application/json"})
    assert_error(resp, 400, code)


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"key": "k", "metadata": {"ttlInSeconds": "soon"}}, "ttlInSeconds"),
        ({"key": "k", "options": {"concurrency": "sometimes"}}, "concurrency model 'sometimes'"),
    ],
)
def test_items_the_store_refuses_are_a_save_error(
    dapr: httpx.Client, item: dict[str, Any], needle: str
) -> None:
    """daprd hands these to the store, whose refusal is a 500 ERR_STATE_SAVE naming it."""
    resp = save(dapr, item)
    assert_error(resp, 500, "ERR_STATE_SAVE")
    assert needle in resp.json()["message"]


def test_a_transactional_delete_without_key_deletes_nothing(dapr: httpx.Client) -> None:
    k = key()
    save(dapr, {"key": k, "value": 1})
    ops = {"operations": [{"operation": "delete", "request": {}}]}
    assert dapr.post("/v1.0/state/kvstore/transaction", json=ops).status_code == 204
    assert dapr.get(f"/v1.0/state/kvstore/{k}").json() == 1


def test_metadata_lists_the_state_stores_in_scope(dapr: httpx.Client) -> None:
    components = {c["name"]: c for c in dapr.get("/v1.0/metadata").json()["components"]}
    assert components["kvstore"]["type"] == "state.sqlite"
    assert "TRANSACTIONAL" in components["kvstore"]["capabilities"]
    assert "otherappstore" not in components
