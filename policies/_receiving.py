"""What a receiving host decides about a verified bundle: whether it may replace the local
object (only a strict extension of its history may), and which of the policy's capabilities
this host forbids (recorded on import, never widening the ceiling)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import LineageConflict
from ._limits import HostLimits, topic_key
from ._policy import Policy


def check_extends(lineage: Sequence[Mapping[str, Any]], *, seq: int, head: str | None) -> None:
    """Step 6: a local object at (`seq`, `head`) may only be replaced by a strict extension.

    The entries are already verified as a chain, so matching the hash at `seq` proves the
    whole local history is a prefix of the bundle's: no fork and no rollback.
    """
    if seq == 0:
        return
    if len(lineage) <= seq or lineage[seq - 1].get("hash") != head:
        raise LineageConflict(
            f"the object exists here at seq {seq} and the bundle's lineage "
            f"({len(lineage)} entries) does not extend it: importing would fork or roll back"
        )


def host_narrowing(policy: Policy, limits: HostLimits | None) -> dict[str, list[str]]:
    """What of the policy's ceiling this host forbids (recorded on import; never widens)."""
    if limits is None:
        return {"publish": [], "bindings": [], "services": []}
    caps = policy.document.capabilities
    return {
        "publish": [t for t in caps.publish if not limits.allows_topic(topic_key(t))],
        "bindings": [b for b in caps.bindings if not limits.allows_binding(b)],
        "services": [s for s in caps.services if not limits.allows_service(s)],
    }
