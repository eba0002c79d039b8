"""Host signatures on lineage entries: which host made each step, checkable by anyone.

A hash chain shows a history is intact, not who wrote it: anyone can compute one. Each entry a
host writes names the host's key (`host`, its RFC 7638 thumbprint, inside the hash) and carries
`sig`, an Ed25519 signature over a domain-separated statement of the entry's hash (outside the
hash, which it signs). A verifier checks every signature against the key it names, using the
keys it trusts and, for integrity only, the keys a bundle carries; a signer it was not given is
reported as unknown, never silently accepted as trusted.

Ed25519 only: one algorithm, no negotiation (the key's algorithm is fixed by its JWK `crv`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ._errors import InvalidConfig
from ._signing import SigningKey, thumbprint

CONTEXT = b"resident.lineage-entry/1\n"
MAX_SIGNATURE_CHARS = 128


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EntrySigner:
    """Signs entry hashes with a host's Ed25519 key (loaded once: the cycle path signs)."""

    __slots__ = ("_private", "jwk", "kid")

    def __init__(self, key: SigningKey) -> None:
        private = key.private_key()
        if not isinstance(private, ed25519.Ed25519PrivateKey):
            raise InvalidConfig(
                f"lineage entries are signed with Ed25519; the host key is {key.alg}. "
                "Use an Ed25519 host key (`resident keygen` makes one)"
            )
        self._private = private
        self.jwk: dict[str, Any] = {
            k: v for k, v in key.public_jwk.items() if k in ("kty", "crv", "x")
        }
        self.kid = thumbprint(self.jwk)

    def sign(self, entry_hash: str) -> str:
        return _b64(self._private.sign(CONTEXT + entry_hash.encode("ascii")))


def _public_key(jwk: Mapping[str, Any]) -> ed25519.Ed25519PublicKey | None:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        return None
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(_unb64(jwk["x"]))
    except (ValueError, binascii.Error):
        return None


def signature_valid(entry: Mapping[str, Any], jwk: Mapping[str, Any]) -> bool:
    """Whether `entry["sig"]` is the named key's signature over `entry["hash"]`."""
    sig, entry_hash = entry.get("sig"), entry.get("hash")
    key = _public_key(jwk)
    if key is None or not isinstance(sig, str) or not isinstance(entry_hash, str):
        return False
    if len(sig) > MAX_SIGNATURE_CHARS or not entry_hash.isascii():
        return False
    try:
        key.verify(_unb64(sig), CONTEXT + entry_hash.encode("ascii"))
    except (CryptoInvalidSignature, ValueError, binascii.Error):
        return False
    return True


@dataclass(slots=True)
class SignatureReport:
    """What `check_entry_signatures` found: `first_bad` is the first entry whose signature
    does not verify (or names a key nobody supplied); `unknown_signers` are keys that verify
    but are not among the trusted ones; `unsigned` counts entries without a signature."""

    ok: bool = True
    signed: int = 0
    unsigned: int = 0
    signers: dict[str, int] = field(default_factory=dict)
    unknown_signers: list[str] = field(default_factory=list)
    first_bad: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "signed": self.signed,
            "unsigned": self.unsigned,
            "signers": dict(self.signers),
            "unknown_signers": list(self.unknown_signers),
            "first_bad": self.first_bad,
            "reason": self.reason,
        }


def host_keys(jwks: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{thumbprint: public jwk} of the Ed25519 keys among `jwks` (others cannot sign entries)."""
    keys: dict[str, dict[str, Any]] = {}
    for jwk in jwks:
        if _public_key(jwk) is not None:
            public = {k: jwk[k] for k in ("kty", "crv", "x")}
            keys[thumbprint(public)] = public
    return keys


def check_entry_signatures(
    entries: Iterable[Mapping[str, Any]],
    *,
    trusted: Mapping[str, Mapping[str, Any]],
    carried: Mapping[str, Mapping[str, Any]] | None = None,
) -> SignatureReport:
    """Check every entry's host signature. `trusted`: {kid: jwk} of hosts the verifier trusts;
    `carried`: keys that came with the history (a bundle's), good for integrity only."""
    report = SignatureReport()
    unknown: dict[str, None] = {}
    for entry in entries:
        kid = entry.get("host")
        if "sig" not in entry and kid is None:
            report.unsigned += 1
            continue
        seq = entry.get("seq")
        jwk = trusted.get(kid) if isinstance(kid, str) else None
        if jwk is None and isinstance(kid, str) and carried is not None:
            jwk = carried.get(kid)
            if jwk is not None and thumbprint(jwk) != kid:
                jwk = None  # a carried key must be the key its name says
            if jwk is not None:
                unknown[kid] = None
        if jwk is None:
            report.ok, report.first_bad = False, seq if isinstance(seq, int) else 0
            report.reason = (
                f"entry {seq} is signed by host key {str(kid)[:64]!r}, which nobody supplied"
            )
            break
        if not signature_valid(entry, jwk):
            report.ok, report.first_bad = False, seq if isinstance(seq, int) else 0
            report.reason = f"entry {seq}: the host signature does not verify with key {kid}"
            break
        report.signed += 1
        report.signers[str(kid)] = report.signers.get(str(kid), 0) + 1
    report.unknown_signers = list(unknown)
    return report
