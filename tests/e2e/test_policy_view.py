"""`GET /objects/{id}/policy` (what the console renders of an object's authority) and the
ETags that let it poll an object cheaply; on both sidecars."""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.hosts import Issuer, ResidentHost, example

OBJECT = "thermostat-pv1"


@pytest.fixture(scope="module")
def installed(host: ResidentHost, issuer: Issuer) -> None:
    ops = issuer.token("ops", "ops", "viewer", "sensor")
    document = example("thermostat", evaluation={"every": "1h", "on_change": False})
    assert host.put_policy(OBJECT, issuer.sign(document), ops).status_code == 201


def install(host: ResidentHost, issuer: Issuer) -> str:
    return issuer.token("ops", "ops", "viewer", "sensor")


def test_the_policy_view_shows_the_document_commands_and_what_the_caller_may_do(
    host: ResidentHost, issuer: Issuer, installed: None
) -> None:
    ops = install(host, issuer)
    response = host.call("GET", f"/objects/{OBJECT}/policy", ops)
    assert response.status_code == 200, response.text
    view = response.json()
    snapshot = host.show(OBJECT, ops)
    assert view["policy"]["digest"] == snapshot["policy"]["digest"]
    assert view["policy"]["issuer"] == issuer.name
    assert view["policy"]["document"]["rules"][0]["name"] == "overheat"
    assert yaml.safe_load(view["policy"]["yaml"]) == view["policy"]["document"]
    assert view["commands"] == {"report": {"params": {"temperature": "number"}, "returns": True}}
    assert view["capabilities"]["publish"] == ["alerts"]
    # The e2e host sets no limits: nothing withheld, and the host's minimum period shows.
    assert view["host_limits"]["publish"] is None
    assert view["effective"]["publish"] == ["alerts"]
    assert view["effective"]["period_s"] == 3600.0
    assert view["allowed"] == {
        "read": True,
        "evaluate": False,
        "export": True,
        "amend": True,
        "event": False,
    }
    assert view["workflow"] is None
    assert view["versions"] == [
        {"digest": snapshot["policy"]["digest"], "id": "thermostat", "version": 3}
    ]
    viewer = host.call("GET", f"/objects/{OBJECT}/policy", issuer.token("v", "viewer")).json()
    assert viewer["allowed"] == {
        "read": True,
        "evaluate": False,
        "export": False,
        "amend": False,
        "event": False,
    }


def test_the_policy_view_is_refused_to_whom_the_object_is(
    host: ResidentHost, issuer: Issuer, mallory: Issuer, installed: None
) -> None:
    install(host, issuer)
    cases = [
        (None, 401, "unauthenticated"),
        (mallory.token("ops", "ops", "viewer"), 401, "unauthenticated"),
        (issuer.token("s", "sensor"), 403, "forbidden"),
    ]
    for token, status, code in cases:
        refused = host.call("GET", f"/objects/{OBJECT}/policy", token)
        assert (refused.status_code, refused.json()["code"]) == (status, code)
        assert "document" not in refused.text
    missing = host.call("GET", "/objects/thermostat-absent/policy", issuer.token("o", "viewer"))
    assert missing.status_code == 404


def test_an_unchanged_object_answers_304_to_its_etag(
    host: ResidentHost, issuer: Issuer, installed: None
) -> None:
    ops = install(host, issuer)
    for path in (f"/objects/{OBJECT}", f"/objects/{OBJECT}/lineage", f"/objects/{OBJECT}/policy"):
        first = host.call("GET", path, ops)
        tag = first.headers["etag"]
        again = host.call("GET", path, ops, headers={"if-none-match": tag})
        assert (path, again.status_code, again.content) == (path, 304, b"")
        assert again.headers["etag"] == tag
    tag = host.call("GET", f"/objects/{OBJECT}", ops).headers["etag"]
    assert host.command(OBJECT, "report", ops, temperature=25).status_code == 200
    changed = host.call("GET", f"/objects/{OBJECT}", ops, headers={"if-none-match": tag})
    assert changed.status_code == 200
    assert changed.json()["data"]["temperature"] == 25
    # A validator never stands in for the permission check: a stranger with it gets a 403.
    stranger = host.call(
        "GET",
        f"/objects/{OBJECT}",
        issuer.token("s", "sensor"),
        headers={"if-none-match": changed.headers["etag"]},
    )
    assert stranger.status_code == 403


def test_the_policy_view_names_every_version_the_object_ran_under(
    host: ResidentHost, issuer: Issuer
) -> None:
    ops = issuer.token("ops", "ops", "viewer")
    object_id = "thermostat-pv2"
    digests = []
    for version in (3, 4):
        document = example("thermostat", version=version, successors=None)
        assert host.put_policy(object_id, issuer.sign(document), ops).status_code in {200, 201}
        digests.append(host.show(object_id, ops)["policy"]["digest"])
    view = host.call("GET", f"/objects/{object_id}/policy", ops).json()
    assert sorted((v["version"], v["digest"]) for v in view["versions"]) == [
        (3, digests[0]),
        (4, digests[1]),
    ]
    entries = host.entries(object_id, ops)
    assert {e["policy"] for e in entries} == set(digests)
