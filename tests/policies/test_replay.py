"""Replay: a history is accepted only if re-executing it under its policies reproduces it.

Histories here are written with the real engine (`tests.policies.history`); a forger is
modelled as someone who edits entries and then recomputes the chain and re-signs it, so the
chain and the signatures verify and only replay can tell.
"""

from __future__ import annotations

import copy
import functools
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import (
    EntrySigner,
    Lineage,
    Policy,
    PolicyError,
    TrustStore,
    check_entry_signatures,
    check_replay,
    example_document,
    generate_key,
    host_keys,
    load_policy,
    replay_lineage,
    sign_policy,
    verify_lineage,
)
from tests.policies.conftest import ISSUER, NOW
from tests.policies.history import History, rechain

OBJECT = "thermostat-1"
OPS = {"iss": ISSUER, "sub": "ops", "roles": []}
SENSOR = {"iss": ISSUER, "sub": "s1", "roles": ["sensor"]}
HOST = generate_key()

# One step of a thermostat's life: a sensor report, a cycle, or an amendment to a new version.
Step = tuple[str, Any]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("report"), st.integers(-99, 199) | st.floats(-99, 199)),
        st.tuples(st.just("cycle"), st.none()),
        st.tuples(st.just("amend"), st.integers(10, 60)),
    ),
    max_size=12,
)


ISSUER_KEY = generate_key(kid="k1", issuer=ISSUER)


@functools.cache
def thermostat(version: int = 3, threshold: int = 30) -> Policy:
    """Signed and compiled once per version (examples reuse them: compiling CEL is slow)."""
    document = example_document("thermostat")
    document["version"] = version
    document["data"]["threshold"] = threshold
    trust = TrustStore.from_jwks({"keys": [ISSUER_KEY.public_jwk]})
    return load_policy(sign_policy(document, ISSUER_KEY, now=NOW), trust, now=NOW)


def live(plan: list[Step]) -> tuple[History, dict[str, Policy]]:
    """Run `plan` on a thermostat the way a host would; every version it ran under."""
    first = thermostat()
    history = History(OBJECT, host_key=HOST, start=NOW - timedelta(hours=1))
    history.create(first, OPS)
    versions = {first.digest: first}
    version = 3
    for kind, value in plan:
        history.tick()
        if kind == "report":
            history.command("report", {"temperature": value}, SENSOR)
        elif kind == "cycle":
            history.cycle()
        else:
            version += 1
            successor = thermostat(version, threshold=value)
            versions[successor.digest] = successor
            history.install(successor, OPS)
    return history, versions


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps)
def test_any_history_a_host_writes_replays(plan: list[Step]) -> None:
    history, versions = live(plan)
    report = replay_lineage(history.entries, object_id=OBJECT, policies=versions, data=history.data)
    assert report.ok, report.reason
    assert (report.replayable, report.replayed) == (True, len(history.entries))


# Each mutation changes something a step's outcome depends on (an input, an output or the
# policy it names); applied to entry `index`, replay must fail exactly there.
def _mutations(entry: dict[str, Any]) -> list[str]:
    kinds = ["changes", "effects", "denied", "data_digest", "policy"]
    if entry["kind"] not in ("created", "export"):  # there `extra` describes the host
        kinds.append("extra")
    inputs = entry.get("inputs", {})
    if inputs.get("trigger") == "command":
        kinds += ["params", "caller", "command"]
    return kinds


def _mutate(entry: dict[str, Any], what: str) -> None:
    inputs = entry["inputs"]
    if what == "changes":
        entry["changes"] = [*entry["changes"], {"op": "set", "path": "status", "value": "ok!"}]
    elif what == "effects":
        entry["effects"] = [*entry["effects"], {"kind": "publish", "topic": "alerts", "data": 1}]
    elif what == "denied":
        entry["denied"] = [*entry["denied"], {"rule": "overheat", "reason": "made up"}]
    elif what == "data_digest":
        entry["data_digest"] = "sha256:" + "0" * 64
    elif what == "policy":
        entry["policy"] = "sha256:" + "1" * 64
    elif what == "extra":
        entry["extra"] = {**(entry.get("extra") or {}), "forged": True}
    elif what == "params":
        inputs["params"] = {"temperature": inputs["params"]["temperature"] + 1000}
    elif what == "caller":
        inputs["caller"] = {**inputs["caller"], "roles": []}
    else:
        inputs["command"] = "evaluate"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps.filter(bool), data=st.data())
def test_any_single_changed_input_output_or_policy_breaks_replay_at_that_entry(
    plan: list[Step], data: st.DataObject
) -> None:
    history, versions = live(plan)
    entries = copy.deepcopy(history.entries)
    index = data.draw(st.integers(0, len(entries) - 1), label="entry")
    what = data.draw(st.sampled_from(_mutations(entries[index])), label="mutation")
    _mutate(entries[index], what)
    forged = rechain(entries, start=index, signer=EntrySigner(HOST))
    verify_lineage(forged, object_id=OBJECT)  # the chain alone cannot tell
    report = replay_lineage(forged, object_id=OBJECT, policies=versions)
    assert not report.ok
    assert report.first_bad == index + 1, (what, report.reason)


def test_the_forged_approval_is_named_with_the_entry_and_reason() -> None:
    """The attack from the issue: an entry no command could have made, rechained."""
    history, versions = live([("report", 25)])
    forged = copy.deepcopy(history.entries)
    last = forged[-1]
    forged.append(
        {
            **last,
            "seq": last["seq"] + 1,
            "changes": [{"op": "set", "path": "threshold", "value": 1000}],
            "inputs": {**last["inputs"], "params": {"temperature": 25}},
        }
    )
    forged = rechain(forged, start=len(forged) - 1, signer=EntrySigner(generate_key()))
    report = replay_lineage(forged, object_id=OBJECT, policies=versions)
    assert (report.ok, report.first_bad) == (False, len(forged))
    assert "re-executing it" in str(report.reason)
    with pytest.raises(PolicyError) as caught:
        check_replay(forged, object_id=OBJECT, policies=versions)
    assert (caught.value.code, getattr(caught.value, "seq", None)) == (
        "replay_mismatch",
        len(forged),
    )


def test_a_history_relabelled_onto_another_object_is_refused() -> None:
    history, versions = live([("report", 40)])
    with pytest.raises(PolicyError) as caught:
        verify_lineage(history.entries, object_id="thermostat-2")
    assert caught.value.code == "lineage_broken"
    report = replay_lineage(history.entries, object_id="thermostat-2", policies=versions)
    assert not report.ok


def test_an_amendment_the_policy_in_force_refuses_does_not_replay() -> None:
    history, versions = live([("report", 25), ("amend", 50)])
    entries = copy.deepcopy(history.entries)
    amend = next(i for i, e in enumerate(entries) if e["kind"] == "policy" and e["seq"] > 2)
    entries[amend]["inputs"]["caller"] = {**OPS, "sub": "intruder"}  # amend needs sub == ops
    entries[amend]["who"] = {"iss": ISSUER, "sub": "intruder"}
    forged = rechain(entries, start=amend, signer=None)
    report = replay_lineage(forged, object_id=OBJECT, policies=versions)
    assert (report.ok, report.first_bad) == (False, amend + 1)
    assert "refuses this successor" in str(report.reason)


def test_a_policy_the_history_does_not_carry_stops_replay() -> None:
    history, versions = live([("amend", 50), ("report", 60)])
    first = next(iter(versions))
    only_first = {first: versions[first]}
    report = replay_lineage(history.entries, object_id=OBJECT, policies=only_first)
    assert not report.ok
    assert "does not carry" in str(report.reason)


def test_entries_before_inputs_were_recorded_are_a_reapplied_prefix() -> None:
    policy = thermostat()
    old = Lineage()
    data = policy.initial_data
    old.append("created", data=data, who=OPS, policy_digest=policy.digest, time=NOW)
    old.append("policy", data=data, who=OPS, policy_digest=policy.digest, time=NOW)
    changed = {**data, "temperature": 25}
    change = [{"op": "set", "path": "temperature", "value": 25}]
    old.append("command", data=changed, who=SENSOR, policy_digest=policy.digest, time=NOW,
               changes=change)  # fmt: skip
    versions = {policy.digest: policy}
    report = replay_lineage(old.entries, object_id=OBJECT, policies=versions, data=changed)
    assert (report.ok, report.replayable, report.legacy) == (True, False, 3)
    with pytest.raises(PolicyError) as caught:
        check_replay(old.entries, object_id=OBJECT, policies=versions)
    assert caught.value.code == "replay_mismatch"
    assert check_replay(old.entries, object_id=OBJECT, policies=versions, allow_legacy=True).ok

    lying = copy.deepcopy(old.entries)
    lying[2]["changes"] = [{"op": "set", "path": "temperature", "value": 26}]
    lying = rechain(lying, start=2, signer=None)
    assert replay_lineage(lying, object_id=OBJECT, policies=versions).first_bad == 3


def test_a_legacy_entry_after_recorded_ones_is_refused() -> None:
    history, versions = live([("report", 25)])
    entries = copy.deepcopy(history.entries)
    legacy = {k: v for k, v in entries[-1].items() if k not in ("inputs", "object")}
    forged = rechain([*entries[:-1], legacy], start=len(entries) - 1, signer=None)
    report = replay_lineage(forged, object_id=OBJECT, policies=versions)
    assert (report.ok, report.first_bad) == (False, len(forged))
    assert "earlier entries do" in str(report.reason)


def test_entry_signatures_name_their_host_and_detect_tampering() -> None:
    history, _ = live([("report", 40), ("cycle", None)])
    entries = history.entries
    assert all(e["host"] == EntrySigner(HOST).kid for e in entries)
    own = host_keys([HOST.public_jwk])
    report = check_entry_signatures(entries, trusted=own)
    assert (report.ok, report.signed, report.unknown_signers) == (True, len(entries), [])

    carried_only = check_entry_signatures(entries, trusted={}, carried=own)
    assert carried_only.ok
    assert carried_only.unknown_signers == [EntrySigner(HOST).kid]
    assert not check_entry_signatures(entries, trusted={}).ok  # a key nobody supplied

    tampered = copy.deepcopy(entries)
    tampered[1]["sig"] = EntrySigner(generate_key()).sign(tampered[1]["hash"])
    bad = check_entry_signatures(tampered, trusted=own)
    assert (bad.ok, bad.first_bad) == (False, 2)

    impostor = generate_key()  # a carried key under another key's name does not count
    lying = {EntrySigner(HOST).kid: EntrySigner(impostor).jwk}
    assert not check_entry_signatures(entries, trusted={}, carried=lying).ok


@pytest.mark.parametrize(
    ("recorded", "produced", "same"),
    [
        ({"v": 35}, {"v": 35.0}, True),  # one JSON number: the store writes 35.0 as 35
        ({"v": True}, {"v": 1}, False),  # a bool is never a number
        ({"v": 0}, {"v": False}, False),
        ({"v": None}, {"v": 0}, False),
        ({"v": "1"}, {"v": 1}, False),
        ([1, 2], [1, 2, 3], False),
        ({"a": 1}, {"b": 1}, False),
        ([{"op": "set", "path": "p", "value": [1, {"x": "y"}]}],
         [{"op": "set", "path": "p", "value": [1.0, {"x": "y"}]}], True),
    ],
)  # fmt: skip
def test_replay_compares_records_as_json_values(recorded: Any, produced: Any, same: bool) -> None:
    from policies._replayer import same as _same

    assert _same(recorded, produced) is same
    assert _same(produced, recorded) is same
