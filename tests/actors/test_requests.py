"""Idempotency keys: a repeated keyed request is applied once, within the host's window.

The HTTP API gives every command a key (the caller's `Idempotency-Key`, else a fresh one); the
object records the outcome in the same transaction and answers a repeat with it, even from a
new activation (daprd re-delivers a call after a rebalance).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors import HostConfig, ResidentObject
from actors._request_fingerprints import command_fingerprint
from actors._request_records import in_full
from actors._request_tail import TAIL_ENTRIES
from actors._requests import millis
from actors._state import ObjectStore
from policies import TrustStore, sign_policy, sign_token
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY, stored

GATED = {
    **COUNTER,
    "permissions": {"read": "true", "amend": "true", "evaluate": "true"},
    "commands": {
        "increment": {"do": [{"set": {"count": "data.count + 1"}}]},
        "add": {
            "params": {"by": "integer"},
            "when": "params.by > 0",
            "do": [{"set": {"count": "data.count + params.by"}}],
        },
    },
}


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


class TickingClock(FakeClock):
    """Moves on by 0.6 ms at every reading: two readings in one turn would differ."""

    def now(self) -> datetime:
        self.moment += timedelta(microseconds=600)
        return self.moment


def record_keys(sidecar: InMemorySidecar) -> list[str]:
    return [k for k in sidecar.state if k.startswith("ResidentObject||counter-1||request-slot-")]


def token(sub: str = "ops") -> str:
    now = int(time.time())
    claims = {"iss": "https://issuer.example", "sub": sub, "iat": now, "exp": now + 600}
    return sign_token(claims, KEY)


def activation(sidecar: InMemorySidecar, **host: Any) -> ResidentObject:
    config = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}), **host)
    return object_on(sidecar, config, "counter-1")


async def saved(result: Any, actor: ResidentObject) -> dict[str, Any]:
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    assert isinstance(result, dict)
    return result


async def command(actor: ResidentObject, key: object, **extra: Any) -> dict[str, Any]:
    request = {"name": "increment", "params": {}, "token": token(), "idempotency_key": key}
    return await saved(await actor.command({**request, **extra}), actor)


async def installed(**host: Any) -> tuple[InMemorySidecar, ResidentObject]:
    sidecar = InMemorySidecar()
    actor = activation(sidecar, **host)
    result = await actor.install_policy({"policy": sign_policy(GATED, KEY), "token": token()})
    assert "error" not in await saved(result, actor)
    return sidecar, actor


async def test_a_repeat_returns_the_first_outcome_and_applies_nothing() -> None:
    sidecar, actor = await installed()
    first = await command(actor, "r-1")
    again = await command(activation(sidecar), "r-1")  # e.g. retried on another replica
    assert again == {**first, "replayed": True}
    assert again["seq"] == first["seq"] == 3
    assert stored(sidecar, "data") == {"count": 1}
    assert stored(sidecar, "meta")["seq"] == 3
    assert (await command(actor, "r-2"))["seq"] == 4
    assert stored(sidecar, "data") == {"count": 2}


async def test_a_record_is_bound_to_its_request_type_for_type_whichever_form_it_is_stored_in() -> (
    None
):
    """A record its entry says all of is stored as its key alone, its request read back from
    the entry's inputs; those hold canonical JSON (2.0 as 2), so a command with a float in its
    params keeps its fingerprint in the record. Either way a new activation replays the same
    request and refuses another under the same key: 2 and 2.0 are different requests."""
    sidecar, actor = await installed()
    whole = await command(actor, "k-int", name="add", params={"by": 2})
    floated = await command(actor, "k-float", name="add", params={"by": 2.0})
    assert stored(sidecar, f"lineage-{whole['seq']:010d}")[1] == "k-int"
    assert isinstance(stored(sidecar, f"lineage-{floated['seq']:010d}")[1], list)
    for key, same, other in (("k-int", 2, 2.0), ("k-float", 2.0, 2)):
        again = await command(activation(sidecar), key, name="add", params={"by": same})
        assert again == {**(whole if key == "k-int" else floated), "replayed": True}
        refused = await command(activation(sidecar), key, name="add", params={"by": other})
        assert refused["error"]["code"] == "idempotency_key_reused"
    assert stored(sidecar, "data") == {"count": 4}


async def test_request_id_is_the_keys_older_name() -> None:
    sidecar, actor = await installed()
    first = await command(actor, None, request_id="r-1")
    again = await command(actor, "r-1")
    assert again == {**first, "replayed": True}
    refused = await command(actor, "r-1", request_id="r-2")
    assert refused["error"]["code"] == "invalid_request"
    assert stored(sidecar, "data") == {"count": 1}


async def test_a_key_is_per_caller_and_bound_to_its_request() -> None:
    sidecar, actor = await installed()
    await command(actor, "r-1")
    other = await command(actor, "r-1", token=token("someone-else"))
    assert "replayed" not in other  # another caller's keys: applied
    assert stored(sidecar, "data") == {"count": 2}
    reused = await command(actor, "r-1", name="add", params={"by": 5})
    assert reused["error"]["code"] == "idempotency_key_reused"
    assert "different request" in reused["error"]["message"]
    assert stored(sidecar, "data") == {"count": 2}


async def test_a_refused_command_is_not_remembered_so_its_fix_may_reuse_the_key() -> None:
    sidecar, actor = await installed()
    refused = await command(actor, "k-1", name="add", params={"by": 0})
    assert refused["error"]["code"] == "forbidden"
    fixed = await command(actor, "k-1", name="add", params={"by": 2})
    assert fixed["applied"] is True
    assert "replayed" not in fixed
    assert stored(sidecar, "data") == {"count": 2}


async def test_keys_expire_after_the_hosts_window() -> None:
    clock = FakeClock()
    window = timedelta(seconds=30)
    sidecar, actor = await installed(clock=clock, idempotency_window=window)
    first = await command(actor, "k-1")
    clock.moment += window  # still inside: the window's last instant
    assert (await command(actor, "k-1"))["replayed"] is True
    clock.moment += timedelta(milliseconds=1)
    after = await command(actor, "k-1")
    assert "replayed" not in after
    assert after["seq"] == first["seq"] + 1
    assert stored(sidecar, "data") == {"count": 2}
    clock.moment += window * 2
    assert "replayed" not in await command(actor, "k-1", name="add", params={"by": 3})
    assert stored(sidecar, "data") == {"count": 5}


async def test_a_record_has_one_time_in_the_activation_that_made_it_and_in_the_next() -> None:
    """A keyed command's record is timed by its turn's one clock reading, the one its
    lineage entry is stamped with: a new activation, which reads the time back from the
    entry, keeps the record until the same instant as the activation that made it."""
    clock = TickingClock()
    sidecar, actor = await installed(clock=clock)
    for n in range(6):
        await command(actor, f"k-{n}")
    kept = await actor._store.request_index(max_keys=256)
    reactivated = activation(sidecar, clock=clock)._state_manager
    again = await ObjectStore(reactivated, object_id="counter-1").request_index(max_keys=256)
    assert len(kept) == 6
    assert again.entries() == kept.entries()


async def test_at_most_max_keys_are_kept_the_oldest_dropped_first() -> None:
    clock = FakeClock()
    sidecar, actor = await installed(clock=clock, idempotency_max_keys=3)
    for n in range(4):
        await command(actor, f"k-{n}")
        clock.moment += timedelta(seconds=1)
    for n in (1, 2, 3):
        assert (await command(actor, f"k-{n}"))["replayed"] is True
    assert "replayed" not in await command(actor, "k-0")  # forgotten: applied again
    assert stored(sidecar, "data") == {"count": 5}


async def test_a_keyed_evaluate_runs_one_cycle() -> None:
    sidecar, actor = await installed()
    request = {"token": token(), "idempotency_key": "e-1"}
    first = await saved(await actor.evaluate(request), actor)
    assert first["cycle"] == 1
    assert first["seq"] == 2  # the cycle changed nothing: no entry, so its record has a slot
    assert len(record_keys(sidecar)) == 1
    again = await saved(await actor.evaluate(request), activation(sidecar))
    assert again == {**first, "replayed": True}
    assert stored(sidecar, "meta")["cycles"] == 1
    reused = await command(actor, "e-1")
    assert reused["error"]["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("bad", [5, "", "x" * 129, "with space", 'quo"te', "new\nline", "é"])
async def test_a_malformed_key_is_refused(bad: object) -> None:
    sidecar, actor = await installed()
    refused = await command(actor, bad)
    assert refused["error"]["code"] == "invalid_request"
    assert "idempotency_key" in refused["error"]["message"]
    assert stored(sidecar, "data") == {"count": 0}


TICKET = {
    **COUNTER,
    "objects": ["ticket-*"],
    "permissions": {"read": "true", "amend": "true", "event": "true"},
    "workflow": {
        "initial": "open",
        "states": {
            "open": {"transitions": [{"to": "closed", "on": "close"}]},
            "closed": {"terminal": True},
        },
    },
}


async def test_a_keyed_workflow_event_moves_once_and_a_retry_gets_its_result() -> None:
    sidecar = InMemorySidecar()
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    actor = object_on(sidecar, host, "ticket-1")
    installing = {"policy": sign_policy(TICKET, KEY), "token": token()}
    assert "error" not in await saved(await actor.install_policy(installing), actor)
    event = {"name": "close", "params": {}, "token": token(), "idempotency_key": "close-1"}
    first = await saved(await actor.command(event), actor)
    assert first["result"]["state"] == "closed"
    again = await saved(await actor.command(event), actor)  # unkeyed: 409, `closed` is terminal
    assert again == {**first, "replayed": True}
    meta = json.loads(sidecar.state["ResidentObject||ticket-1||meta"])
    assert meta["seq"] == first["seq"]
    unkeyed = await saved(await actor.command({**event, "idempotency_key": None}), actor)
    assert unkeyed["error"]["code"] == "conflict"


async def test_params_that_are_not_plain_json_are_a_clear_refusal() -> None:
    sidecar, actor = await installed()
    refused = await command(actor, "k-1", name="add", params={"by": float("nan")})
    assert refused["error"]["code"] in {"invalid_request", "invalid_params"}
    assert stored(sidecar, "data") == {"count": 0}


async def test_a_keyed_command_writes_no_key_an_unkeyed_one_does_not() -> None:
    """A keyed command's record rides in the stored value of its lineage entry and the index's
    tail in meta; once per `TAIL_ENTRIES + 1` records, the index is compacted: a segment of
    those records is written, and the segments whose records were all dropped deleted. Nothing
    else is deleted, lineage reads return the plain entries, and a new activation remembers
    the newest `max_keys` keys."""
    clock = FakeClock()
    sidecar, actor = await installed(clock=clock, idempotency_max_keys=64)
    prefix = "ResidentObject||counter-1||"
    base_writes = 0
    for n in range(200):
        clock.moment += timedelta(seconds=1)
        before = dict(sidecar.state)
        result = await command(actor, f"k-{n}")
        written = {k.removeprefix(prefix) for k, v in sidecar.state.items() if before.get(k) != v}
        deleted = {k.removeprefix(prefix) for k in set(before) - set(sidecar.state)}
        entry_key = f"lineage-{result['seq']:010d}"
        compacted = "request-index" in written
        base_writes += compacted
        segments = {k for k in written if k.startswith("request-index-")}
        assert written - {"request-index"} - segments == {"data", "meta", entry_key}
        assert len(segments) == compacted  # the records since the last compaction
        assert {k.rpartition("-")[0] for k in deleted} <= (
            {"request-index"} if compacted else set()
        )
        beside = stored(sidecar, entry_key)
        assert len(beside) == 2  # [entry, record]
        # Only what the entry does not say: not the caller, nor the outcome (the command
        # applied for its caller and returned nothing), nor the request (the entry's inputs
        # hold it) and its time (the entry's): the key alone.
        assert beside[1] == f"k-{n}"
        assert (result["result"], result["applied"]) == (None, True)
        record = in_full(beside[1], beside[0])
        assert record is not None
        assert record["outcome"] == {k: v for k, v in result.items() if k != "replayed"}
        assert record["fingerprint"] == command_fingerprint("increment", {})
        assert record["at"] == millis(clock.moment)
        caller = ("https://issuer.example", "ops", f"k-{n}")
        assert (record["iss"], record["sub"], record["key"]) == caller
    assert base_writes == 200 // (TAIL_ENTRIES + 1)
    assert [k for k in sidecar.state if "request-index-" in k] == [f"{prefix}request-index-2"]
    assert record_keys(sidecar) == []
    page = await saved(await actor.lineage({"token": token(), "after": 190, "limit": 5}), actor)
    assert [e["seq"] for e in page["entries"]] == [191, 192, 193, 194, 195]
    assert all(e == stored(sidecar, f"lineage-{e['seq']:010d}")[0] for e in page["entries"])
    verified = await saved(await actor.verify_lineage({"token": token()}), actor)
    assert verified["ok"] is True, verified
    fresh = activation(sidecar, clock=clock, idempotency_max_keys=64)
    for n in range(200 - 64, 200):  # the newest are all remembered, from a new activation
        assert (await command(fresh, f"k-{n}"))["replayed"] is True, n
    assert "replayed" not in await command(fresh, f"k-{200 - 65}")


async def test_a_record_in_the_wrapper_written_before_still_answers_a_retry() -> None:
    """Lineage values written as `{"entry", "request"}` (before `[entry, record]`) still hold
    their record, and lineage reads still unwrap them."""
    sidecar, actor = await installed()
    first = await command(actor, "w-1")
    key = f"ResidentObject||counter-1||lineage-{first['seq']:010d}"
    entry, record = json.loads(sidecar.state[key])
    sidecar.state[key] = json.dumps({"entry": entry, "request": record}).encode()
    fresh = activation(sidecar)
    again = await command(fresh, "w-1")
    assert again == {**first, "replayed": True}
    page = await saved(await fresh.lineage({"token": token(), "after": first["seq"] - 1}), fresh)
    assert page["entries"] == [entry]


async def test_a_record_is_read_only_from_the_wrapper_its_turn_wrote() -> None:
    """A lineage value that is a plain entry (an imported one, say) holds no record, even
    with a top-level `request` field: the retry is applied as a new request."""
    sidecar, actor = await installed()
    first = await command(actor, "w-1")
    key = f"ResidentObject||counter-1||lineage-{first['seq']:010d}"
    wrapper = json.loads(sidecar.state[key])
    sidecar.state[key] = json.dumps({**wrapper[0], "request": wrapper[1]}).encode()
    again = await command(activation(sidecar), "w-1")
    assert "replayed" not in again
    assert again["seq"] == first["seq"] + 1
    assert stored(sidecar, "data") == {"count": 2}


async def test_a_value_replaced_in_its_pending_change_is_what_the_transaction_saves() -> None:
    """A record takes its entry's pending change in place; a key with no pending change of
    that value (another value's, or none) is not replaced: the caller sets it as usual."""
    sidecar, actor = await installed()
    store = ObjectStore(actor._state_manager, object_id="counter-1")
    entry, other = {"seq": 1}, {"seq": 1}
    await actor._state_manager.set_state("pending", entry)
    await actor._state_manager.set_state("another", other)
    assert store._replaced_pending("pending", entry, [entry, "record"]) is True
    assert store._replaced_pending("unstaged", entry, [entry, "elsewhere"]) is False
    assert store._replaced_pending("another", entry, [entry, "not its value"]) is False
    await actor._state_manager.save_state()
    assert stored(sidecar, "pending") == [{"seq": 1}, "record"]
    assert stored(sidecar, "another") == {"seq": 1}
    assert "unstaged" not in {k.rsplit("||", 1)[-1] for k in sidecar.state}
