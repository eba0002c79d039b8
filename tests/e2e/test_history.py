"""Verifiable history on a real host (each sidecar): a forged history is refused on import,
a live object's history verifies and replays, and a dry run writes nothing.

The forgery is the one the replay issue reproduced: take a purchase request's real history,
append an approval by a CFO who never called (cap raised, status approved), recompute the
chain, sign the bundle with a fresh host key, and import it over the live object.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from policies import EntrySigner, build_bundle, data_digest, generate_key
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.policies.history import rechain
from tests.support import ROOT

OBJECT = "purchase-7"


def purchase(issuer: Issuer) -> str:
    document = example("purchase_approval", successors=[issuer.name])
    return issuer.sign(document)


def actor_state(host: ResidentHost, object_id: str, seq: int) -> dict[str, bytes]:
    """The object's keys, read raw through the sidecar's actor state API."""
    keys = ["policy", "data", "meta", "outbox", "provenance"]
    keys += [f"lineage-{n:010d}" for n in range(1, seq + 1)]
    with httpx.Client(base_url=host.dapr_url, headers=host.token_headers(), timeout=10) as dapr:
        return {
            key: dapr.get(f"/v1.0/actors/ResidentObject/{object_id}/state/{key}").content
            for key in keys
        }


def _forged_bundle(bundle: dict[str, Any], cfo: Issuer) -> dict[str, Any]:
    """The history plus one approval no command could have made, re-chained and re-signed."""
    entries = copy.deepcopy(bundle["lineage"])
    export = entries.pop()  # the forger appends before the export entry, then exports again
    last = entries[-1]
    caller = {"iss": cfo.name, "sub": "cfo", "roles": ["approver"]}
    forged = {
        **last,
        "seq": last["seq"] + 1,
        "kind": "command",
        "who": {"iss": cfo.name, "sub": "cfo"},
        "changes": [
            {"op": "set", "path": "cap", "value": 50000},
            {"op": "set", "path": "status", "value": "approved"},
        ],
        "effects": [],
        "denied": [],
        "errors": [],
        "extra": {"command": "approve"},
        "inputs": {**last["inputs"], "trigger": "command", "caller": caller,
                   "command": "approve", "params": {}},
    }  # fmt: skip
    data = {**bundle["data"], "cap": 50000, "status": "approved"}
    forged["data_digest"] = data_digest(data)
    export = {**export, "seq": forged["seq"] + 1, "data_digest": forged["data_digest"]}
    mallory_host = generate_key()
    chain = rechain(
        [*entries, forged, export], start=len(entries), signer=EntrySigner(mallory_host)
    )
    return build_bundle(
        object_id=OBJECT,
        policy_jws=bundle["policy"],
        data=data,
        lineage=chain,
        from_host="host-m",
        key=mallory_host,
        policies=bundle["policies"],
        hosts={**bundle["hosts"], EntrySigner(mallory_host).kid: EntrySigner(mallory_host).jwk},
    )


def test_a_forged_history_is_refused_on_import_with_nothing_written(
    host: ResidentHost, issuer: Issuer, tmp_path: Path
) -> None:
    admin = issuer.token("admin", "finance", "finance-admin")
    assert host.put_policy(OBJECT, purchase(issuer), admin).status_code == 201
    requester = issuer.token("ann", "staff")
    submitted = host.command(OBJECT, "submit", requester, amount=4000)
    assert submitted.status_code == 200, submitted.text
    response = host.call("POST", f"/objects/{OBJECT}/export", admin)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert len(bundle["policies"]) == 1
    assert bundle["hosts"]  # the keys that signed its entries travel with it

    before = host.show(OBJECT, admin)
    state_before = actor_state(host, OBJECT, before["lineage"]["length"])
    forged = _forged_bundle(bundle, Issuer("https://issuer-x.example"))
    refused = host.call("POST", f"/objects/{OBJECT}/import", admin, json=forged)

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "replay_mismatch"
    # The forged approval takes the export entry's place: its seq is the live length.
    assert problem["detail"].startswith(f"entry {before['lineage']['length']}: re-executing")
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert actor_state(host, OBJECT, before["lineage"]["length"]) == state_before

    bundle_file = tmp_path / "forged.json"
    bundle_file.write_text(json.dumps(forged))
    trust = host.workdir / "trust.jwks.json"
    offline = subprocess.run(
        [sys.executable, "-m", "app.cli", "verify", str(bundle_file), "--replay",
         "--trust", str(trust)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert offline.returncode == 1
    assert "FAILED replay_mismatch" in offline.stdout

    genuine = tmp_path / "genuine.json"
    genuine.write_text(json.dumps(bundle))
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "verify", str(genuine), "--replay",
         "--trust", str(trust)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "replay   ok" in ok.stdout


def test_a_live_history_verifies_and_a_dry_run_writes_nothing(
    host: ResidentHost, issuer: Issuer
) -> None:
    object_id = "purchase-8"
    admin = issuer.token("admin", "finance", "finance-admin")
    assert host.put_policy(object_id, purchase(issuer), admin).status_code == 201
    assert host.command(object_id, "submit", issuer.token("ann"), amount=100).status_code == 200
    response = host.command(object_id, "approve", issuer.token("bob", "approver"))
    assert response.status_code == 200, response.text

    report = host.call("GET", f"/objects/{object_id}/lineage/verify", admin)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["ok"] is True, body
    assert (
        body["replay"]["replayed"] == body["chain"]["length"] == len(host.entries(object_id, admin))
    )
    assert body["signatures"]["unknown_signers"] == []
    denied = host.call("GET", f"/objects/{object_id}/lineage/verify", issuer.token("stranger"))
    assert denied.status_code == 403

    seq = host.show(object_id, admin)["lineage"]["length"]
    before = actor_state(host, object_id, seq)
    # A candidate that approves on one approval and announces it on an unlisted topic.
    candidate = example("purchase_approval", version=2)
    candidate["rules"][0]["when"] = "data.status == 'submitted' && size(data.approvals) >= 1"
    candidate["rules"][0]["do"][1]["publish"]["topic"] = "shadow"
    dry = host.call("POST", f"/objects/{object_id}/dry-run", admin, json={"policy": candidate})
    assert dry.status_code == 200, dry.text
    result = dry.json()
    assert result["ran"] == "cycle"
    assert result["changes"] == []  # the rule is refused as a unit: status stays submitted
    (denial,) = [d for d in result["denied"] if d.get("rule") == "approved"]
    assert (denial["by"], denial["capability"]) == ("capability", "publish")
    assert denial["target"] == "purchases/shadow"
    assert actor_state(host, object_id, seq) == before
    assert host.show(object_id, admin)["lineage"]["length"] == seq

    viewer = host.call(
        "POST", f"/objects/{object_id}/dry-run", issuer.token("ann"), json={"policy": candidate}
    )
    assert viewer.status_code == 403
    bad = host.call("POST", f"/objects/{object_id}/dry-run", admin, json={"policy": "x: ["})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_policy"
    assert actor_state(host, object_id, seq) == before
