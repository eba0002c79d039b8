"""Reminders as the real scheduler delivers them, on both sidecars.

daprd's scheduler replays every tick it missed while the sidecar was down, back to back; an
object still runs at most one cycle per period. Every object id the API accepts can hold a
reminder (scheduler job names are validated), and ids that would climb a path are refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost
from tests.support import eventually

TICKER: dict[str, Any] = {
    "id": "ticker",
    "version": 1,
    "objects": ["*"],
    "data": {"n": 0},
    "evaluation": {"every": "1s", "on_change": False},
    "capabilities": {"write": ["n"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "rules": [{"name": "tick", "when": "true", "do": [{"set": {"n": "data.n + 1"}}]}],
}


@pytest.fixture
def ticker_host(tmp_path: Path, issuer: Issuer, sidecar: str) -> Iterator[ResidentHost]:
    with ResidentHost(tmp_path / "host", trusted=[issuer], sidecar=sidecar) as running:
        yield running


def cycle_times(host: ResidentHost, object_id: str, token: str) -> list[datetime]:
    entries = host.entries(object_id, token)
    return [datetime.fromisoformat(e["time"]) for e in entries if e["kind"] == "cycle"]


def test_missed_ticks_after_downtime_run_at_most_one_cycle_per_period(
    ticker_host: ResidentHost, issuer: Issuer
) -> None:
    host, ops = ticker_host, issuer.token("ops", "ops")
    assert host.put_policy("ticker-1", issuer.sign(TICKER), ops).status_code == 201
    eventually(lambda: host.show("ticker-1", ops)["cycles"] >= 2, timeout=10)

    host.kill_sidecar()  # ticks fall due while nobody can deliver them
    assert host.app_proc is not None
    host.app_proc.kill()
    host.start_sidecar()
    host.start_app()
    host.wait_ready()
    before = host.show("ticker-1", ops)["cycles"]
    eventually(lambda: host.show("ticker-1", ops)["cycles"] >= before + 3, timeout=15)

    times = cycle_times(host, "ticker-1", ops)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.5, gaps  # never two cycles within half a period
    snapshot = host.show("ticker-1", ops)
    verify_lineage(host.entries("ticker-1", ops), data=snapshot["data"])


def test_every_accepted_object_id_gets_its_reminder(
    ticker_host: ResidentHost, issuer: Issuer
) -> None:
    host, ops = ticker_host, issuer.token("ops", "ops")
    ids = ["Ticker-UPPER", "t", "tick_er:1.a-b", "9-lives", "a..b"]
    for object_id in ids:
        created = host.put_policy(object_id, issuer.sign(TICKER), ops)
        assert created.status_code == 201, (object_id, created.text)
    eventually(lambda: all(host.show(i, ops)["cycles"] >= 1 for i in ids), timeout=10)

    for bad in [".", "..", ".hidden", "trailing.", "-dash", "sp ace"]:
        refused = host.put_policy(bad, issuer.sign(TICKER), ops)
        assert 400 <= refused.status_code < 500, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json"), bad
