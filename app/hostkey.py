"""The host key: signs the bundles this host exports and keys its delivery marks.

One host is one identity, however many replicas serve it: they all read the same key (a file
or a mounted Secret, RESIDENT_HOST_KEY). Generating one at start-up would give each replica its
own, so `/.well-known/jwks.json` and bundle signatures would depend on which replica answered;
so a key is generated only where asked (RESIDENT_GENERATE_HOST_KEY, which `resident dev` and
`resident serve` set for a laptop), else a missing key stops the start-up with what to do.
A receiver decides separately whether it trusts this key (RESIDENT_TRUSTED_HOSTS).
"""

from __future__ import annotations

import os
from pathlib import Path

from policies import SigningKey, generate_key


class MissingHostKey(RuntimeError):
    """No host key where the settings say, and generating one was not asked for."""


def ensure_host_key(path: Path, *, generate: bool = False) -> SigningKey:
    """The key at `path`; with `generate`, an Ed25519 key is created there first if absent."""
    if not generate:
        try:
            return SigningKey.from_pem(path.read_bytes())
        except FileNotFoundError as exc:
            raise MissingHostKey(
                f"no host key at {path}: give every replica the same key (RESIDENT_HOST_KEY, "
                "e.g. a mounted Secret; `resident keygen` makes one), or set "
                "RESIDENT_GENERATE_HOST_KEY=true for a single development host"
            ) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return SigningKey.from_pem(path.read_bytes())
    key = generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_pem)
    return key


def host_jwks(key: SigningKey) -> dict[str, list[dict[str, object]]]:
    """The JWKS a receiving host adds to its trusted hosts to trust this one."""
    return {"keys": [dict(key.public_jwk)]}
