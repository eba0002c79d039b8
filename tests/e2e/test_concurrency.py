"""Turns are atomic under concurrency: no lost update, no cap exceeded, lineage contiguous."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost

COUNTER: dict[str, Any] = {
    "id": "counter",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"count": 0, "approvals": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["count", "approvals"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {
        "increment": {"do": [{"set": {"count": "data.count + 1"}}]},
        "approve": {
            "when": "data.approvals < 5",
            "do": [{"set": {"approvals": "data.approvals + 1"}}],
        },
    },
}


async def _fire(host: ResidentHost, object_id: str, name: str, token: str, n: int) -> list[int]:
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=host.app_url, timeout=60, limits=limits) as client:
        calls = [
            client.post(f"/objects/{object_id}/commands/{name}", json={}, headers=headers)
            for _ in range(n)
        ]
        responses = await asyncio.gather(*calls)
    return [r.status_code for r in responses]


def test_concurrent_commands_lose_no_update(host: ResidentHost, issuer: Issuer) -> None:
    ops = issuer.token("ops", "ops")
    assert host.put_policy("counter-1", issuer.sign(COUNTER), ops).status_code == 201

    statuses = asyncio.run(_fire(host, "counter-1", "increment", ops, 200))

    assert statuses == [200] * 200
    snapshot = host.show("counter-1", ops)
    assert snapshot["data"]["count"] == 200
    entries = host.entries("counter-1", ops)
    assert [e["seq"] for e in entries] == list(range(1, 203))
    verify_lineage(entries, data=snapshot["data"])


def test_a_capped_command_never_exceeds_its_cap(host: ResidentHost, issuer: Issuer) -> None:
    ops = issuer.token("ops", "ops")
    assert host.put_policy("counter-2", issuer.sign(COUNTER), ops).status_code == 201

    statuses = asyncio.run(_fire(host, "counter-2", "approve", ops, 60))

    assert sorted(statuses) == [200] * 5 + [403] * 55
    assert host.show("counter-2", ops)["data"]["approvals"] == 5
