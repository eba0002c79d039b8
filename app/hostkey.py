"""The host key: signs the bundles this host exports; its public JWK is published.

Created on first start when absent (mode 0600), so a fresh `resident serve` can export at
once. A receiver decides separately whether it trusts this key (RESIDENT_TRUSTED_HOSTS).
"""

from __future__ import annotations

import os
from pathlib import Path

from policies import SigningKey, generate_key


def ensure_host_key(path: Path) -> SigningKey:
    """The key at `path`, generating an Ed25519 key there first if there is none."""
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
