"""`resident export`, `resident import` and `resident verify` (offline).

Kept apart from `app.cli` so the portability commands stay one room; `app.cli.build_parser`
adds them with `add_transfer_commands`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from policies import PolicyError, TrustStore, VerifiedBundle, verify_bundle

from .httpclient import CliError, HostClient

DEFAULT_URL = "http://127.0.0.1:8000"


def _host_client(args: argparse.Namespace) -> HostClient:
    token = args.token or os.environ.get("RESIDENT_TOKEN")
    if not token:
        raise CliError("no token: pass --token or set RESIDENT_TOKEN (see `resident token`)")
    return HostClient(args.url or os.environ.get("RESIDENT_URL", DEFAULT_URL), token=token)


def _read_json(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path}: not JSON ({exc})") from exc


def _jwks(path: Path, what: str, *, hosts: bool = False) -> TrustStore:
    try:
        return TrustStore.from_jwks(json.loads(path.read_text()), require_issuer=not hosts)
    except (OSError, ValueError) as exc:
        raise CliError(f"{what} {path}: cannot read a JWKS document ({exc})") from exc


def cmd_export(args: argparse.Namespace) -> int:
    bundle = _host_client(args).export(args.id, move=args.move, destination=args.destination)
    print(json.dumps(bundle, indent=2, sort_keys=True))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    bundle = _read_json(args.file)
    if not isinstance(bundle, dict) or not isinstance(bundle.get("object_id"), str):
        raise CliError(f"{args.file}: not a bundle (no object_id); see `resident export`")
    print(json.dumps(_host_client(args).import_bundle(bundle), indent=2, sort_keys=True))
    return 0


def _report(bundle: VerifiedBundle, hosts_checked: bool) -> str:
    policy, last = bundle.policy, bundle.last
    if bundle.host_trusted:
        host = "trusted"
    elif hosts_checked:
        host = "UNTRUSTED"
    else:
        host = "intact (signer not checked: pass --hosts JWKS)"
    return "\n".join(
        [
            f"bundle   {bundle.object_id} from {bundle.from_host!r} at {bundle.exported_at}",
            f"policy   ok  {policy.id} v{policy.version} by {policy.issuer} ({policy.digest})",
            f"lineage  ok  {len(bundle.lineage)} entries, head {bundle.head}",
            f"data     ok  matches the digest of entry {last['seq']} ({last['kind']})",
            f"host     ok  key {bundle.host_key}: {host}",
            f"replay   ok  {bundle.replay.replayed} entries re-executed under "
            f"{len(bundle.policies)} policy version(s), every one reproduced",
            f"entries  ok  {bundle.signatures.signed} host-signed, {bundle.signatures.unsigned} "
            f"unsigned; unknown signers: {', '.join(bundle.signatures.unknown_signers) or 'none'}",
            "ok",
        ]
    )


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 only when every check passes; with --hosts an unlisted signer also fails."""
    trust_path = args.trust or os.environ.get("RESIDENT_TRUST") or ".resident/trust.jwks.json"
    trust = _jwks(Path(trust_path), "--trust")
    hosts = _jwks(Path(args.hosts), "--hosts", hosts=True) if args.hosts else None
    raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    try:
        bundle = verify_bundle(
            raw, trust, trusted_hosts=hosts, require_trusted_host=hosts is not None
        )
    except PolicyError as exc:
        print(f"FAILED {exc.code}: {exc.message}")
        return 1
    print(_report(bundle, hosts is not None))
    return 0


def add_transfer_commands(sub: Any) -> None:
    """Register export, import and verify on the `resident` subparsers."""
    p = sub.add_parser("export", help="print an object's signed bundle: export ID > b.json")
    p.add_argument("id")
    p.add_argument("--move", action="store_true", help="the object stops running here")
    p.add_argument("--destination", help="where it moves (recorded; named in 409 moved)")
    p.set_defaults(func=cmd_export)
    host_commands = [p]
    p = sub.add_parser("import", help="import a bundle into the host at --url")
    p.add_argument("file", help="bundle JSON file ('-' for stdin)")
    p.set_defaults(func=cmd_import)
    host_commands.append(p)
    for parser in host_commands:
        parser.add_argument("--url", help=f"host URL (RESIDENT_URL, default {DEFAULT_URL})")
        parser.add_argument("--token", help="caller JWT (RESIDENT_TOKEN)")
    p = sub.add_parser("verify", help="check a bundle offline; exit 1 on any failure")
    p.add_argument("file", help="bundle JSON file ('-' for stdin)")
    p.add_argument("--trust", help="JWKS of trusted issuers (RESIDENT_TRUST)")
    p.add_argument("--hosts", help="JWKS of trusted hosts; an unlisted signer then fails")
    p.add_argument(
        "--replay",
        action="store_true",
        help="re-execute the history under its policies (always done: the flag documents it)",
    )
    p.set_defaults(func=cmd_verify)
