"""Signing keys and the trust file under the host's home (`.resident/` by default)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from policies import SigningKey, generate_key


class KeyStoreError(RuntimeError):
    """A key or trust file is missing or unreadable; the message says which and how to fix it."""


class KeyStore:
    """`keys/NAME.pem` (private, mode 0600) + `keys/NAME.json` (kid, issuer) + `trust.jwks.json`."""

    def __init__(self, home: Path, *, trust_path: Path | None = None) -> None:
        self.home = home
        self.keys = home / "keys"
        self.trust_path = trust_path or home / "trust.jwks.json"

    def exists(self, name: str) -> bool:
        return (self.keys / f"{name}.pem").exists()

    def create(self, name: str, *, issuer: str | None = None) -> SigningKey:
        """A new Ed25519 key; its public JWK is added to the trust file (replacing the same kid)."""
        self.keys.mkdir(parents=True, exist_ok=True)
        key = generate_key(kid=name, issuer=issuer or name)
        pem_path = self.keys / f"{name}.pem"
        pem = key.private_pem
        data = pem if isinstance(pem, bytes) else pem.encode()
        write_private(pem_path, data)
        (self.keys / f"{name}.json").write_text(
            json.dumps({"kid": key.kid, "issuer": issuer or name, "public_jwk": key.public_jwk})
        )
        self.trust(key.public_jwk)
        return key

    def load(self, name: str) -> SigningKey:
        try:
            pem = (self.keys / f"{name}.pem").read_bytes()
            info = json.loads((self.keys / f"{name}.json").read_text())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(
                f"key {name!r} not found in {self.keys}: create it with `resident keygen {name}`"
            ) from exc
        return SigningKey.from_pem(pem, kid=str(info["kid"]), issuer=info.get("issuer"))

    def issuer_of(self, name: str) -> str:
        info = json.loads((self.keys / f"{name}.json").read_text())
        return str(info.get("issuer") or name)

    def trust(self, jwk: dict[str, Any]) -> None:
        """Add (or replace, by kid) a public JWK in the trust file."""
        document: dict[str, Any] = {"keys": []}
        if self.trust_path.exists():
            document = json.loads(self.trust_path.read_text())
        keys = [k for k in document.get("keys", []) if k.get("kid") != jwk.get("kid")]
        document["keys"] = [*keys, jwk]
        self.trust_path.parent.mkdir(parents=True, exist_ok=True)
        self.trust_path.write_text(json.dumps(document, indent=2) + "\n")


def write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only, whatever was at `path` before.

    An existing file (or a symlink planted there) is removed first, then the file is created
    with O_EXCL | O_NOFOLLOW and mode 0600: never written through a link, never keeping a
    wider mode an old file had."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
