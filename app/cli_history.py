"""`resident lineage` (readable, one line per entry, with why each denial happened),
`resident lineage --verify` and `resident dry-run`: the history commands of the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from policies import read_document

from .httpclient import CliError, HostClient

MAX_VALUE_CHARS = 60


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def explain_denial(denial: dict[str, Any]) -> str:
    """One readable clause: what was refused, by what, and the reason."""
    where = next(
        (f"{k} {denial[k]!r}" for k in ("rule", "command", "event", "state") if k in denial),
        "a step",
    )
    action = denial.get("action")
    target = denial.get("target")
    what = f"{action} {target!r}" if action and target else (action or "")
    by = denial.get("by")
    details = {
        "capability": f"capabilities.{denial.get('capability')}",
        "host_limit": f"the host's {denial.get('limit')} limit",
        "schema": f"the schema at {denial.get('path')}",
        "max_actions": (
            f"max_actions ({denial.get('needed')} needed, {denial.get('remaining')} left)"
        ),
        "when": "its `when`",
        "size": "the host's data size limits",
        "workflow": "the workflow",
    }
    detail = details.get(str(by), "policy")
    return f"{where}{': ' + what if what else ''} refused by {detail} ({denial.get('reason')})"


def entry_line(entry: dict[str, Any]) -> str:
    """`seq time kind who: what happened` on one line, denials explained."""
    who = entry.get("who") or {}
    caller = who.get("sub") or who.get("reminder") or who.get("pubsub") or "?"
    parts = [f"{entry.get('seq'):>5}", str(entry.get("time", ""))[:19], f"{entry.get('kind'):<10}"]
    parts.append(f"{caller}:")
    extra = entry.get("extra") or {}
    if "command" in extra:
        parts.append(f"command {extra['command']}")
    if "to" in extra and entry.get("kind") in ("transition", "denied"):
        parts.append(f"{extra.get('from')} -> {extra.get('to')}")
    changes = [
        f"{c.get('path')}={_short(c.get('value'))}" if c.get("op") == "set" else f"-{c.get('path')}"
        for c in entry.get("changes") or []
    ]
    if changes:
        parts.append("set " + ", ".join(changes))
    effects = [
        e.get("topic") or e.get("name") or e.get("app_id") or "?"
        for e in entry.get("effects") or []
    ]
    if effects:
        parts.append("emits " + ", ".join(str(e) for e in effects))
    denials = [explain_denial(d) for d in entry.get("denied") or []]
    if denials:
        parts.append("DENIED " + "; ".join(denials))
    errors = [str(e.get("error")) for e in entry.get("errors") or []]
    if errors:
        parts.append("ERROR " + "; ".join(errors))
    return " ".join(parts)


def cmd_lineage(args: argparse.Namespace, client: HostClient) -> int:
    if args.verify:
        offline = client.verify_lineage(args.id)
        report = client.verify_history(args.id)
        print(json.dumps({**report, "offline_chain": offline}, indent=2, sort_keys=True))
        return 0 if report["ok"] and offline["ok"] else 1
    page = client.lineage(args.id, after=args.after, limit=args.limit)
    if args.json:
        print(json.dumps(page, indent=2, sort_keys=True))
        return 0
    for entry in page["entries"]:
        print(entry_line(entry))
    return 0


def _command(args: argparse.Namespace) -> dict[str, Any] | None:
    if not args.command:
        return None
    params: dict[str, Any] = {}
    for pair in args.params:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"parameter {pair!r} is not of the form name=value")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return {"name": args.command, "params": params}


def cmd_dry_run(args: argparse.Namespace, client: HostClient) -> int:
    """Print what the candidate would do; it is sent as a document (no signature needed)."""
    text = Path(args.file).read_text()
    policy: Any = (
        text.strip()
        if text.strip().count(".") == 2 and "\n" not in text.strip()
        else (read_document(text))
    )
    report = client.dry_run(args.id, policy=policy, command=_command(args))
    print(json.dumps(report, indent=2, sort_keys=True))
    for denial in report.get("denied", []):
        print("denied: " + explain_denial(denial))
    return 0


def add_history_commands(sub: Any, client_of: Any, add_host_options: Any) -> None:
    """Register `lineage` and `dry-run` on the `resident` subparsers."""
    p = sub.add_parser("lineage", help="print an object's lineage (--verify: check it)")
    p.add_argument("id")
    p.add_argument("--verify", action="store_true", help="chain, host signatures and replay")
    p.add_argument("--json", action="store_true", help="the raw entries")
    p.add_argument("--after", type=int, default=0)
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=lambda args: cmd_lineage(args, client_of(args)))
    add_host_options(p)
    p = sub.add_parser("dry-run", help="what a candidate policy would do to an object now")
    p.add_argument("id")
    p.add_argument("file", help="the candidate: YAML/JSON document or a signed JWS")
    p.add_argument("--command", help="run this command (params as name=value) instead of a cycle")
    p.add_argument("params", nargs="*")
    p.set_defaults(func=lambda args: cmd_dry_run(args, client_of(args)))
    add_host_options(p)
