"""What a policy decision means for the object's history: whether a step enters lineage, and
whether a command was refused before it tried anything (actors._turns, actors._cycle)."""

from __future__ import annotations

from policies import Decision


def worth_recording(decision: Decision) -> bool:
    """A step enters lineage when it changed, emitted, or was refused or failed something."""
    return bool(decision.changes or decision.effects or decision.denied or decision.errors)


def refusal_of(decision: Decision, command: str) -> str | None:
    """Why the command's own `when` refused the caller, if it did (no action was tried).

    A refused request changes nothing and is not chained into lineage (else any caller could
    grow an object's history); denials of admitted actions are, as `denied` entries.
    """
    for denial in decision.denied:
        if denial.get("command") == command and "action" not in denial:
            return str(denial.get("reason", "refused"))
    return None
