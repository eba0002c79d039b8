"""What a reader may know about an object's authority: its policy, the host's narrowing, and
which of its operations this caller may start.

The audit console renders this; it is read under the same `read` permission as the object's
data, because the policy document is the object's own description (the export bundle carries
it too). Nothing here is secret to the host: no token, no key, no other caller's claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from policies import DEFAULT_PUBSUB, HostLimits, Policy

from ._meta import StoredObject

# The permissions the HTTP API checks by name (see actors/_object.py and actors/_portability.py).
OPERATIONS = ("read", "evaluate", "export", "amend", "event")


def _limits_view(limits: HostLimits) -> dict[str, Any]:
    """The host's allow-lists as JSON: None means "no host restriction", [] "nothing"."""
    return {
        "publish": None if limits.publish is None else list(limits.publish),
        "bindings": None if limits.bindings is None else list(limits.bindings),
        "services": None if limits.services is None else list(limits.services),
        "max_actions": limits.max_actions,
        "min_period_s": limits.min_period.total_seconds(),
    }


def _topic(entry: str) -> str:
    """A capability's topic as the host compares it: "pubsub/topic" (policies._limits)."""
    return entry if "/" in entry else f"{DEFAULT_PUBSUB}/{entry}"


def _effective(policy: Policy, limits: HostLimits) -> dict[str, Any]:
    """Policy ∩ host, entry by entry, so a reader sees which capability the host withholds."""
    caps = policy.document.capabilities
    return {
        "write": list(caps.write),
        "publish": [t for t in caps.publish if limits.allows_topic(_topic(t))],
        "bindings": [b for b in caps.bindings if limits.allows_binding(b)],
        "services": [s for s in caps.services if limits.allows_service(s)],
        "max_actions": policy.effective_max_actions(limits),
        "period_s": policy.effective_period(limits).total_seconds(),
    }


def _workflow(policy: Policy) -> dict[str, Any] | None:
    workflow = policy.document.workflow
    if workflow is None:
        return None
    states = {
        name: {
            "terminal": state.terminal,
            "transitions": [{"to": t.to, "on": t.on, "after": t.after} for t in state.transitions],
        }
        for name, state in workflow.states.items()
    }
    initial = workflow.initial or next(
        (name for name, state in workflow.states.items() if state.initial), None
    )
    return {"initial": initial or next(iter(states)), "states": states}


def _version_of(jws: str) -> dict[str, Any] | None:
    """{digest, id, version} of a policy JWS the object ran under (verified when it was
    installed; read here for display only, so an expired one still names its version)."""
    parts = jws.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    digest = "sha256:" + hashlib.sha256(jws.encode("ascii", errors="replace")).hexdigest()
    return {"digest": digest, "id": payload.get("id"), "version": payload.get("version")}


def _versions(policy: Policy, history: Iterable[object]) -> list[dict[str, Any]]:
    """Every policy version the object ran under, so lineage digests read as versions."""
    found = {policy.digest: {"digest": policy.digest, "id": policy.id, "version": policy.version}}
    for jws in history:
        version = _version_of(jws) if isinstance(jws, str) else None
        if version is not None:
            found.setdefault(version["digest"], version)
    return list(found.values())


def describe(
    stored: StoredObject,
    policy: Policy,
    *,
    caller: Mapping[str, Any],
    object_id: str,
    limits: HostLimits,
    history: Iterable[object] = (),
) -> dict[str, Any]:
    """The object's policy and this caller's standing towards it (the caller may `read`)."""
    document = policy.document.model_dump(mode="json", by_alias=True, exclude_none=True)
    allowed = {
        op: policy.allows(op, caller, object_id=object_id, data=stored.data) for op in OPERATIONS
    }
    return {
        "id": object_id,
        "policy": {
            "id": policy.id,
            "version": policy.version,
            "digest": policy.digest,
            "issuer": policy.issuer,
            "claims": policy.claims,
            "document": document,
            "yaml": yaml.safe_dump(document, sort_keys=False, allow_unicode=True),
        },
        "versions": _versions(policy, history),
        "capabilities": policy.document.capabilities.model_dump(mode="json"),
        "host_limits": _limits_view(limits),
        "effective": _effective(policy, limits),
        "commands": {
            name: {"params": dict(command.params), "returns": command.returns is not None}
            for name, command in policy.document.commands.items()
        },
        "events": sorted(policy.workflow_events),
        "workflow": _workflow(policy),
        "allowed": allowed,
        "status": stored.meta.status,
        "created_at": stored.meta.created_at,
        "last_cycle_at": stored.meta.last_cycle_at,
    }
