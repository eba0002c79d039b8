"""Signing keys, the trust store and compact-JWS verification shared by policies and tokens.

Only asymmetric algorithms are accepted (EdDSA, ES256, RS256) and each trusted key is bound to
exactly one of them, so neither `alg: none`, an HMAC downgrade nor algorithm confusion can
get a payload past `verify_compact`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ._errors import (
    InvalidConfig,
    InvalidPolicy,
    InvalidSignature,
    TooDeep,
    UnboundKey,
    UnsignedPolicy,
    UntrustedIssuer,
)

ALGORITHMS = ("EdDSA", "ES256", "RS256")
POLICY_TYP = "resident-policy+jwt"
_KTY_ALG = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256", ("RSA", None): "RS256"}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})
_MIN_RSA_BITS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: a kid that is stable for the key and needs no registry."""
    required = {
        "OKP": ("crv", "kty", "x"),
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
    }
    members = {name: jwk[name] for name in required[str(jwk["kty"])]}
    return _b64(hashlib.sha256(rfc8785.dumps(members)).digest())


def _algorithm_for(jwk: Mapping[str, Any]) -> str:
    kty = jwk.get("kty")
    if kty == "oct":
        raise InvalidConfig(
            "symmetric (kty 'oct') keys are refused: HMAC lets every verifier forge "
            "signatures; use an Ed25519, P-256 or RSA public key"
        )
    alg = _KTY_ALG.get((str(kty), None if kty == "RSA" else jwk.get("crv")))
    if alg is None:
        raise InvalidConfig(
            f"unsupported key kind kty={kty!r} crv={jwk.get('crv')!r}; "
            "use OKP/Ed25519, EC/P-256 or RSA"
        )
    if jwk.get("alg") not in (None, alg):
        raise InvalidConfig(f"key {jwk.get('kid')!r}: alg {jwk.get('alg')!r} does not fit {kty}")
    return alg


def _public_jwk(public_key: Any) -> dict[str, Any]:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return dict(OKPAlgorithm.to_jwk(public_key, as_dict=True))
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return dict(ECAlgorithm.to_jwk(public_key, as_dict=True))
    return dict(RSAAlgorithm.to_jwk(public_key, as_dict=True))


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private signing key with its kid, algorithm and public JWK.

    `private_pem` is PKCS#8 PEM as `bytes`; keep it secret. `public_jwk` carries kty/crv/x
    (or n/e), kid, alg, use="sig" and, when the key belongs to an issuer, "iss".
    """

    kid: str
    alg: str
    private_pem: bytes = field(repr=False)
    public_jwk: dict[str, Any]
    issuer: str | None = None

    @classmethod
    def from_pem(
        cls, pem: bytes | str, *, kid: str | None = None, issuer: str | None = None
    ) -> SigningKey:
        """Load a PKCS#8/traditional PEM private key (Ed25519, P-256 or RSA >= 2048 bits)."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidConfig(f"not an unencrypted PEM private key: {exc}") from exc
        return _from_private(private, kid=kid, issuer=issuer)

    def private_key(self) -> Any:
        return serialization.load_pem_private_key(self.private_pem, password=None)


def _from_private(private: Any, *, kid: str | None, issuer: str | None) -> SigningKey:
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size < _MIN_RSA_BITS:
        raise InvalidConfig(f"RSA keys need >= {_MIN_RSA_BITS} bits, got {private.key_size}")
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name != "secp256r1":
        raise InvalidConfig(f"EC keys must use P-256, got {private.curve.name}")
    if not isinstance(
        private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise InvalidConfig(f"unsupported private key type {type(private).__name__}")
    jwk = _public_jwk(private.public_key())
    alg = _algorithm_for(jwk)
    jwk.update(kid=kid or thumbprint(jwk), alg=alg, use="sig")
    if issuer is not None:
        jwk["iss"] = issuer
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey(kid=jwk["kid"], alg=alg, private_pem=pem, public_jwk=jwk, issuer=issuer)


def generate_key(*, kid: str | None = None, issuer: str | None = None) -> SigningKey:
    """A fresh Ed25519 key; `kid` defaults to its RFC 7638 thumbprint."""
    return _from_private(ed25519.Ed25519PrivateKey.generate(), kid=kid, issuer=issuer)


@dataclass(frozen=True, slots=True)
class _Trusted:
    jwk: dict[str, Any]
    alg: str
    key: Any
    issuer: str | None


class TrustStore:
    """Public keys we accept signatures from, by kid; immutable once built."""

    __slots__ = ("_keys", "fingerprint")

    def __init__(self, keys: Mapping[str, _Trusted]) -> None:
        self._keys = dict(keys)
        canonical = rfc8785.dumps([k.jwk for k in sorted(self._keys.values(), key=_kid)])
        self.fingerprint = hashlib.sha256(canonical).hexdigest()

    @classmethod
    def from_jwks(cls, doc: Mapping[str, Any], *, require_issuer: bool = True) -> TrustStore:
        """Build from `{"keys": [jwk, ...]}`; refuses symmetric, private or duplicate keys.

        Each key of an issuer trust file must carry the one issuer it signs for (`"iss"`, else
        `UnboundKey`). `require_issuer=False` is for host keys, which sign bundles only: such
        a store cannot verify a policy or a token."""
        keys = doc.get("keys") if isinstance(doc, Mapping) else None
        if not isinstance(keys, list):
            raise InvalidConfig('a JWKS document is an object with a "keys" list')
        trusted: dict[str, _Trusted] = {}
        for index, jwk in enumerate(keys):
            entry = _load_jwk(jwk, index, require_issuer=require_issuer)
            if entry.jwk["kid"] in trusted:
                raise InvalidConfig(f"JWKS key {index}: kid {entry.jwk['kid']!r} is repeated")
            trusted[entry.jwk["kid"]] = entry
        return cls(trusted)

    def to_jwks(self) -> dict[str, Any]:
        return {"keys": [dict(k.jwk) for k in self._keys.values()]}

    def issuer_for(self, kid: str) -> str | None:
        """The issuer bound to `kid` (its JWK's "iss"), or None if the key names none."""
        entry = self._keys.get(kid)
        return entry.issuer if entry else None

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def _get(self, kid: str) -> _Trusted | None:
        return self._keys.get(kid)


def _kid(entry: _Trusted) -> str:
    return str(entry.jwk["kid"])


def _load_jwk(jwk: Any, index: int, *, require_issuer: bool) -> _Trusted:
    if not isinstance(jwk, Mapping):
        raise InvalidConfig(f"JWKS key {index} is not an object")
    alg = _algorithm_for(jwk)
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidConfig(f"JWKS key {index} holds private key material; publish public keys")
    kid, issuer = jwk.get("kid"), jwk.get("iss")
    if not isinstance(kid, str) or not kid:
        raise InvalidConfig(f'JWKS key {index} needs a non-empty string "kid"')
    if issuer is not None and (not isinstance(issuer, str) or not issuer):
        raise UnboundKey(f'JWKS key {kid!r}: "iss" must be one issuer, a non-empty string', kid=kid)
    if require_issuer and issuer is None:
        raise UnboundKey(
            f'JWKS key {kid!r} names no issuer: add the "iss" it signs as (`resident keygen '
            "NAME --issuer ISS` writes it); a key bound to no issuer could sign for any",
            kid=kid,
        )
    if jwk.get("use", "sig") != "sig":
        raise InvalidConfig(f"JWKS key {kid!r}: use must be 'sig'")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise InvalidConfig(f"JWKS key {kid!r} is malformed: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < _MIN_RSA_BITS:
        raise InvalidConfig(f"JWKS key {kid!r}: RSA keys need >= {_MIN_RSA_BITS} bits")
    return _Trusted(jwk=dict(jwk), alg=alg, key=key, issuer=issuer)


def sign_compact(payload: bytes, key: SigningKey, *, typ: str) -> str:
    """A compact JWS over `payload` with `kid`, `alg` and `typ` headers."""
    return jwt.PyJWS().encode(
        payload, key.private_key(), algorithm=key.alg, headers={"kid": key.kid, "typ": typ}
    )


@dataclass(frozen=True, slots=True)
class Verified:
    header: dict[str, Any]
    payload: dict[str, Any]
    issuer: str | None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 66 else text[:63] + "..."


def verify_compact(token: str, trust: TrustStore) -> Verified:
    """Verify a compact JWS against `trust` and decode its JSON-object payload.

    Raises UnsignedPolicy (not a JWS, refused alg), UntrustedIssuer (unknown kid, iss not the
    key's issuer) or InvalidSignature. Messages never include the token itself.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise UnsignedPolicy(f"not a compact JWS ({exc}); sign it with sign_policy") from exc
    except RecursionError as exc:  # json.loads of a header nested thousands of levels deep
        raise UnsignedPolicy("not a compact JWS: its header nests too deep") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise UnsignedPolicy(
            f"algorithm {_short(alg)} is refused; sign with one of {', '.join(ALGORITHMS)}"
        )
    kid = header.get("kid")
    entry = trust._get(kid) if isinstance(kid, str) else None
    if entry is None:
        raise UntrustedIssuer(f"signing key kid={_short(kid)} is not in the trust store")
    if entry.alg != alg:
        raise InvalidSignature(f"key {kid!r} signs with {entry.alg}, but the JWS claims {alg}")
    try:
        raw = jwt.PyJWS().decode_complete(token, entry.key, algorithms=[alg])["payload"]
    except jwt.InvalidSignatureError as exc:
        raise InvalidSignature(f"signature does not verify with key {kid!r}") from exc
    except jwt.PyJWTError as exc:
        raise UnsignedPolicy(f"malformed JWS ({exc})") from exc
    payload = _json_object(raw)
    if entry.issuer is not None and payload.get("iss") != entry.issuer:
        raise UntrustedIssuer(
            f"iss {_short(payload.get('iss'))} does not match key {kid!r}'s issuer {entry.issuer!r}"
        )
    return Verified(header=header, payload=payload, issuer=entry.issuer)


def issuer_of(verified: Verified) -> str:
    """The issuer a verified policy or token speaks for: its key's, which its `iss` matches.

    A key bound to no issuer (a host key) never vouches for a policy or a token."""
    if not verified.issuer:
        raise UntrustedIssuer(
            f"signing key kid={_short(verified.header.get('kid'))} is bound to no issuer; "
            'only trust-file keys with an "iss" sign policies and tokens'
        )
    return verified.issuer


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPolicy(f"JWS payload is not JSON ({exc})") from exc
    except RecursionError as exc:
        raise TooDeep("JWS payload nests thousands of levels deep; flatten it") from exc
    if not isinstance(payload, dict):
        raise InvalidPolicy("JWS payload must be a JSON object")
    return payload
