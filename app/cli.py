"""`resident`: keys, tokens and signing offline; serving; and calling a running host.

Calls to a host use `--url` (or RESIDENT_URL) and `--token` (or RESIDENT_TOKEN).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from policies import PolicyError, parse_duration, sign_policy, sign_token

from .cli_authoring import add_authoring_commands, refuse_lint_errors
from .cli_history import add_history_commands
from .cli_transfer import add_transfer_commands
from .httpclient import CliError, HostClient
from .keystore import KeyStore, KeyStoreError
from .serve import ServeOptions, default_resources, serve

DEFAULT_URL = "http://127.0.0.1:8000"


def _home() -> Path:
    return Path(os.environ.get("RESIDENT_HOME", ".resident"))


def _keystore() -> KeyStore:
    trust = os.environ.get("RESIDENT_TRUST")
    return KeyStore(_home(), trust_path=Path(trust) if trust else None)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _value(text: str) -> Any:
    """`k=v` values: JSON when they parse as JSON (numbers, true, lists), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def make_token(args: argparse.Namespace) -> str:
    store = _keystore()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": store.issuer_of(args.key),
        "sub": args.sub,
        "roles": list(args.role or []),
        "iat": now,
        "exp": now + int(parse_duration(args.ttl).total_seconds()),
    }
    if args.aud:
        claims["aud"] = args.aud
    for pair in args.claim or []:
        name, _, value = pair.partition("=")
        claims[name] = _value(value)
    return sign_token(claims, store.load(args.key))


def sign_file(path: Path, key_name: str) -> str:
    """Sign a YAML/JSON policy file; `iss` defaults to the key's issuer, `iat` to now.
    Refused, listing every problem, when `resident lint` finds an error in it."""
    refuse_lint_errors(path)
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict):
        raise CliError(f"{path}: a policy document must be a mapping")
    store = _keystore()
    document.setdefault("iss", store.issuer_of(key_name))
    document.setdefault("iat", int(time.time()))
    return sign_policy(document, store.load(key_name))


def _policy_text(path: Path, key: str | None) -> str:
    if key:
        return sign_file(path, key)
    text = path.read_text().strip()
    if text.count(".") != 2 or "\n" in text:
        raise CliError(f"{path} is not a signed policy (JWS); pass --key NAME to sign it")
    return text


def cmd_dev(args: argparse.Namespace) -> int:
    """First run: create the dev key and trust file; print a token and what to try next."""
    store = _keystore()
    if not store.exists("dev"):
        store.create("dev", issuer="dev")
    token_args = argparse.Namespace(
        key="dev", sub="ops", role=["ops", "sensor", "viewer"], ttl="12h", aud=None, claim=None
    )
    token = make_token(token_args)
    os.environ["RESIDENT_DEV_TOKEN"] = token  # the console's dev sign-in (app.routes.console)
    url = f"http://{args.host}:{args.port}"
    print(
        f"\nResident dev host on {url}  (API docs: {url}/docs, console: {url}/console)\n\n"
        f"export RESIDENT_URL={url}\nexport RESIDENT_TOKEN={token}\n\n"
        "Then try, in another shell:\n"
        "  .venv/bin/resident put-policy thermostat-1 policies/examples/thermostat.yaml --key dev\n"
        "  .venv/bin/resident command thermostat-1 report temperature=35\n"
        "  .venv/bin/resident show thermostat-1\n",
        flush=True,
    )
    return cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.command == "serve":  # the console's dev sign-in exists under `resident dev` only
        os.environ.pop("RESIDENT_DEV_TOKEN", None)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        dapr_http_port=args.dapr_http_port,
        dapr_grpc_port=args.dapr_grpc_port,
        home=_home(),
        resources_path=Path(args.resources_path) if args.resources_path else default_resources(),
    )
    return serve(options)


def cmd_keygen(args: argparse.Namespace) -> int:
    key = _keystore().create(args.name, issuer=args.issuer)
    _print({"kid": key.kid, "issuer": args.issuer or args.name, "public_jwk": key.public_jwk})
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    print(make_token(args))
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    print(sign_file(Path(args.file), args.key))
    return 0


def _client(args: argparse.Namespace) -> HostClient:
    token = args.token or os.environ.get("RESIDENT_TOKEN")
    if not token:
        raise CliError("no token: pass --token or set RESIDENT_TOKEN (see `resident token`)")
    return HostClient(args.url or os.environ.get("RESIDENT_URL", DEFAULT_URL), token=token)


def cmd_put_policy(args: argparse.Namespace) -> int:
    _print(_client(args).put_policy(args.id, _policy_text(Path(args.file), args.key)))
    return 0


def cmd_command(args: argparse.Namespace) -> int:
    params = {}
    for pair in args.params:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"parameter {pair!r} is not of the form name=value")
        params[name] = _value(value)
    client = _client(args)
    _print(client.command(args.id, args.name, params, idempotency_key=args.idempotency_key))
    if client.replayed:
        print("resident: already applied; this is the first result (replayed)", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _print(_client(args).show(args.id))
    return 0


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"host URL (RESIDENT_URL, default {DEFAULT_URL})")
    parser.add_argument("--token", help="caller JWT (RESIDENT_TOKEN)")


def _add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dapr-http-port", type=int, default=3500)
    parser.add_argument(
        "--dapr-grpc-port", type=int, default=50001, help="Dapr gRPC API (Java and Go SDKs)"
    )
    parser.add_argument(
        "--resources-path", help="Dapr resources (default: ./components, else the packaged ones)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resident", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="create a signing key and trust it")
    p.add_argument("name")
    p.add_argument("--issuer", help="issuer (iss) this key signs as; default NAME")
    p.set_defaults(func=cmd_keygen)
    p = sub.add_parser("token", help="print a caller JWT signed by a local key")
    p.add_argument("--key", required=True)
    p.add_argument("--sub", required=True)
    p.add_argument("--role", action="append")
    p.add_argument("--ttl", default="1h")
    p.add_argument("--aud")
    p.add_argument("--claim", action="append", help="extra claim name=value")
    p.set_defaults(func=cmd_token)
    p = sub.add_parser("sign", help="print the JWS of a policy file")
    p.add_argument("file")
    p.add_argument("--key", required=True)
    p.set_defaults(func=cmd_sign)
    for name, func in (("serve", cmd_serve), ("dev", cmd_dev)):
        p = sub.add_parser(name, help=f"{name}: the app, with an embedded localdapr")
        _add_serve_options(p)
        p.set_defaults(func=func)
    p = sub.add_parser("put-policy", help="install or amend an object's policy")
    p.add_argument("id")
    p.add_argument("file", help="a signed JWS, or a YAML/JSON policy with --key")
    p.add_argument("--key")
    p.set_defaults(func=cmd_put_policy)
    p = sub.add_parser("command", help="run a command: resident command ID NAME k=v ...")
    p.add_argument("id")
    p.add_argument("name")
    p.add_argument("params", nargs="*")
    p.add_argument(
        "--idempotency-key",
        help="the request's key (default: a fresh one, reused on this invocation's retries)",
    )
    p.set_defaults(func=cmd_command)
    p = sub.add_parser("show", help="print an object")
    p.add_argument("id")
    p.set_defaults(func=cmd_show)
    for p in sub.choices.values():
        if p.prog.split()[-1] in {"put-policy", "command", "show"}:
            _add_host_options(p)
    add_history_commands(sub, _client, _add_host_options)
    add_transfer_commands(sub)
    add_authoring_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (CliError, KeyStoreError, PolicyError, OSError, yaml.YAMLError) as exc:
        print(f"resident: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
