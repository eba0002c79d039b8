"""`GET /objects` lists what a host runs, paged, showing each object only to its readers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.hosts import Issuer, ResidentHost, example

IDS = ["thermostat-l1", "thermostat-l2", "thermostat-l3"]


def test_listing_pages_and_filters_by_read_permission(host: ResidentHost, issuer: Issuer) -> None:
    ops = issuer.token("ops", "ops", "viewer")
    policy = issuer.sign(example("thermostat", evaluation={"every": "1h", "on_change": False}))
    for object_id in reversed(IDS):
        assert host.put_policy(object_id, policy, ops).status_code == 201

    first = host.call("GET", "/objects?prefix=thermostat-l&limit=2", ops).json()
    assert [o["id"] for o in first["objects"]] == IDS[:2]
    assert first["next"] == IDS[1]
    rest = host.call("GET", f"/objects?prefix=thermostat-l&limit=2&after={first['next']}", ops)
    assert [o["id"] for o in rest.json()["objects"]] == IDS[2:]
    assert rest.json()["next"] is None

    outsider = issuer.token("someone", "sensor")  # thermostat's `read` needs the viewer role
    hidden = host.call("GET", "/objects?prefix=thermostat-l", outsider)
    assert hidden.status_code == 200
    assert hidden.json()["objects"] == []


def test_objects_created_at_once_are_all_listed(host: ResidentHost, issuer: Issuer) -> None:
    """Creations race for the same index buckets; a lost first-write race (409 on localdapr,
    500 from Redis under daprd) is retried, never an object missing from the listing."""
    ops = issuer.token("ops", "ops", "viewer")
    policy = issuer.sign(example("thermostat", evaluation={"every": "1h", "on_change": False}))
    ids = [f"thermostat-race{n:02d}" for n in range(40)]

    def create(object_id: str) -> int:
        return host.put_policy(object_id, policy, ops).status_code

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(create, ids)) == [201] * len(ids)
    listed = host.call("GET", "/objects?prefix=thermostat-race&limit=100", ops).json()
    assert [o["id"] for o in listed["objects"]] == ids
