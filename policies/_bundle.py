"""Bundles: an object's policy, data and lineage, signed by the host that exported it.

A bundle is what moves between hosts. Everything in it is checked offline by the receiver
against the receiver's own trust, never the sender's: the policy's signature against its trust
store, the lineage chain, that the last entry vouches for the data and the policy, and the
exporting host's signature over the whole. The checks run in that order, each with its own
error code, so a refusal says exactly which part is wrong.

Since histories record their inputs, a bundle also carries every policy version the object ran
under (`policies`) and the public keys of the hosts that signed its entries (`hosts`), and the
receiver *re-executes* the whole history under those policies (`_replay`): a chain anyone could
have computed is not enough, every step must be one the policies in force would have made. The
entry signatures are checked against the keys they name; a key the receiver does not trust is
reported (`unknown_signers`), and refused when it requires trusted hosts.

The host signature is a detached compact JWS (RFC 7515, appendix F) over the RFC 8785 JSON of
the bundle without `signature`. It carries the host's public JWK in its header, so any reader
can check the bundle was not altered since export; whether that host is *trusted* is a
separate question, answered by the receiver's trusted-hosts JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from ._clock import utc_now
from ._entrysig import SignatureReport, check_entry_signatures, host_keys
from ._errors import (
    BundleTooLarge,
    DataMismatch,
    InvalidBundle,
    InvalidEntrySignature,
    InvalidHostSignature,
    LineageError,
    PolicyError,
    PolicyMismatch,
    UntrustedHost,
)
from ._inputs import InputLimits
from ._json import rfc3339
from ._lineage import canonical_json, data_digest, verify_lineage
from ._load import DEFAULT_INPUTS, load_policy
from ._policy import Policy
from ._replay import ReplayReport, check_replay
from ._signing import ALGORITHMS, SigningKey, TrustStore, thumbprint, verify_compact

BUNDLE_FORMAT = "resident.bundle/1"
BUNDLE_TYP = "resident-bundle+jws"
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
_FIELDS = {
    "format": str,
    "object_id": str,
    "policy": str,
    "data": dict,
    "lineage": list,
    "head": str,
    "from_host": str,
    "exported_at": str,
    "signature": str,
}
# Optional fields. `policies`: every policy version the object ran under; `hosts`: the keys
# that signed its entries; `requests`: the object's idempotency records (absent when it has
# none; their shape is checked by the importing actor).
_OPTIONAL_FIELDS = {"policies": list, "hosts": dict, "requests": list}
MAX_POLICY_VERSIONS = 256
MAX_HOST_KEYS = 64
MAX_BUNDLE_REQUESTS = 4096


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """A bundle that passed every check; `host_trusted` says whether its signer is trusted."""

    object_id: str
    policy: Policy
    data: dict[str, Any]
    lineage: list[dict[str, Any]]
    head: str
    from_host: str
    exported_at: str
    host_key: str
    host_trusted: bool
    policies: dict[str, str]
    hosts: dict[str, dict[str, Any]]
    replay: ReplayReport
    signatures: SignatureReport
    requests: list[Any] = field(default_factory=list)  # checked by the importing actor

    @property
    def last(self) -> dict[str, Any]:
        return self.lineage[-1]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _signed_bytes(bundle: Mapping[str, Any]) -> bytes:
    try:
        return canonical_json({k: v for k, v in bundle.items() if k != "signature"})
    except PolicyError as exc:
        raise InvalidBundle(f"bundle is not canonical JSON: {exc.message}") from exc


def build_bundle(
    *,
    object_id: str,
    policy_jws: str,
    data: Mapping[str, Any],
    lineage: Sequence[Mapping[str, Any]],
    from_host: str,
    key: SigningKey,
    now: datetime | None = None,
    policies: Sequence[str] = (),
    hosts: Mapping[str, Mapping[str, Any]] | None = None,
    requests: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The signed bundle of an object; `lineage` must already end with its `export` entry.
    `policies`: every policy version the object ran under (the current one is added);
    `hosts`: {kid: public jwk} of the hosts that signed its entries."""
    if not lineage:
        raise InvalidBundle("a bundle needs at least one lineage entry")
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "object_id": object_id,
        "policy": policy_jws,
        "data": dict(data),
        "lineage": [dict(entry) for entry in lineage],
        "head": lineage[-1]["hash"],
        "from_host": from_host,
        "exported_at": rfc3339(utc_now(now)),
        "policies": list(dict.fromkeys([*policies, policy_jws])),
        "hosts": {kid: dict(jwk) for kid, jwk in (hosts or {}).items()},
    }
    if requests:
        bundle["requests"] = list(requests)
    jwk = {k: v for k, v in key.public_jwk.items() if k != "iss"}
    headers = {"kid": key.kid, "typ": BUNDLE_TYP, "jwk": jwk}
    compact = jwt.PyJWS().encode(
        _signed_bytes(bundle), key.private_key(), algorithm=key.alg, headers=headers
    )
    header, _, signature = compact.split(".")
    bundle["signature"] = f"{header}..{signature}"
    return bundle


def parse_bundle(
    raw: bytes | str | Mapping[str, Any],
    *,
    object_id: str | None = None,
    max_bytes: int = MAX_BUNDLE_BYTES,
    inputs: InputLimits | None = None,
) -> dict[str, Any]:
    """Step 1: size, nesting and shape. Returns the bundle as a dict of the documented fields.
    Nesting is checked before anything recursive (json.dumps) touches a decoded bundle."""
    inputs = inputs or DEFAULT_INPUTS
    if not isinstance(raw, bytes | str):
        inputs.check_depth(raw, what="bundle", envelope=True)
    size = len(raw) if isinstance(raw, bytes | str) else len(json.dumps(raw))
    if size > max_bytes:
        raise BundleTooLarge(f"bundle is {size} bytes; this host's limit is {max_bytes}")
    if isinstance(raw, bytes | str):
        try:
            raw = inputs.loads(raw, what="bundle", envelope=True)
        except ValueError as exc:
            raise InvalidBundle(f"bundle is not JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise InvalidBundle("a bundle is a JSON object")
    bundle = dict(raw)
    missing = sorted(set(_FIELDS) - set(bundle))
    unknown = sorted(set(bundle) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
    if missing or unknown:
        raise InvalidBundle(f"bundle fields: missing {missing}, unknown {unknown}")
    fields = {**_FIELDS, **{k: v for k, v in _OPTIONAL_FIELDS.items() if k in bundle}}
    wrong = [name for name, kind in fields.items() if not isinstance(bundle[name], kind)]
    if wrong:
        raise InvalidBundle(f"bundle fields of the wrong type: {', '.join(wrong)}")
    if bundle["format"] != BUNDLE_FORMAT:
        raise InvalidBundle(f"bundle format {bundle['format']!r} is not {BUNDLE_FORMAT!r}")
    if object_id is not None and bundle["object_id"] != object_id:
        raise InvalidBundle(f"bundle is for object {bundle['object_id']!r}, not {object_id!r}")
    if not bundle["lineage"]:
        raise InvalidBundle("bundle lineage is empty")
    _check_optional(bundle)
    return bundle


def _check_optional(bundle: Mapping[str, Any]) -> None:
    """Bounds on the optional fields: each is hostile input until checked."""
    policies, hosts = bundle.get("policies", []), bundle.get("hosts", {})
    if len(policies) > MAX_POLICY_VERSIONS or not all(isinstance(p, str) for p in policies):
        raise InvalidBundle(f"`policies` must be at most {MAX_POLICY_VERSIONS} signed policies")
    if len(hosts) > MAX_HOST_KEYS or not all(isinstance(k, dict) for k in hosts.values()):
        raise InvalidBundle(f"`hosts` must map at most {MAX_HOST_KEYS} key ids to public JWKs")
    if len(bundle.get("requests", ())) > MAX_BUNDLE_REQUESTS:
        raise InvalidBundle(f"bundle carries over {MAX_BUNDLE_REQUESTS} request records")


def _check_chain(bundle: Mapping[str, Any]) -> None:
    """Step 3: the hash chain from seq 1, ending at the stated `head`."""
    lineage = bundle["lineage"]
    verify_lineage(lineage, object_id=bundle["object_id"])
    if lineage[-1]["hash"] != bundle["head"]:
        raise LineageError(
            f"bundle head {bundle['head']!r} is not the last entry's hash: lineage truncated",
            seq=len(lineage),
        )


def _check_head_vouches(bundle: Mapping[str, Any], policy: Policy) -> None:
    """Step 4: the last entry was made over exactly this data, under exactly this policy."""
    last = bundle["lineage"][-1]
    if data_digest(bundle["data"]) != last["data_digest"]:
        raise DataMismatch(
            f"bundle data does not match the digest recorded at seq {last['seq']}: "
            "it was altered after export"
        )
    if policy.digest != last["policy"]:
        raise PolicyMismatch(
            f"bundle policy {policy.digest} is not the one seq {last['seq']} was made under "
            f"({last['policy']})"
        )


def _signer(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """Step 5a: the embedded host key, after checking the signature verifies with it."""
    header_b64, dot, rest = bundle["signature"].partition(".")
    payload_b64, dot2, signature_b64 = rest.partition(".")
    if not (dot and dot2) or payload_b64:
        raise InvalidHostSignature("bundle signature is not a detached compact JWS (h..s)")
    try:
        header = jwt.get_unverified_header(f"{header_b64}.e30.{signature_b64}")
    except jwt.PyJWTError as exc:
        raise InvalidHostSignature(f"bundle signature header is malformed: {exc}") from exc
    jwk = header.get("jwk")
    if header.get("typ") != BUNDLE_TYP or header.get("alg") not in ALGORITHMS:
        raise InvalidHostSignature(
            f"bundle signature must be typ {BUNDLE_TYP} with one of {', '.join(ALGORITHMS)}"
        )
    if not isinstance(jwk, dict) or jwk.get("kid") != header.get("kid"):
        raise InvalidHostSignature("bundle signature header lacks the signing host's jwk")
    token = f"{header_b64}.{_b64(_signed_bytes(bundle))}.{signature_b64}"
    try:
        verify_compact(token, TrustStore.from_jwks({"keys": [jwk]}, require_issuer=False))
    except PolicyError as exc:
        raise InvalidHostSignature(
            f"host signature does not verify ({exc.code}): the bundle was altered after export"
        ) from exc
    return jwk


def _trusted(jwk: Mapping[str, Any], trusted_hosts: TrustStore | None) -> bool:
    if trusted_hosts is None:
        return False
    try:
        known = {thumbprint(k) for k in trusted_hosts.to_jwks()["keys"]}
        return thumbprint(jwk) in known
    except KeyError:
        return False


def verify_bundle(
    raw: bytes | str | Mapping[str, Any],
    trust: TrustStore,
    *,
    object_id: str | None = None,
    now: datetime | None = None,
    trusted_hosts: TrustStore | None = None,
    require_trusted_host: bool = False,
    max_bytes: int = MAX_BUNDLE_BYTES,
    inputs: InputLimits | None = None,
    allow_legacy: bool = False,
) -> VerifiedBundle:
    """Every check a receiving host makes, in order; the first failure raises its code.

    1. format and size (`invalid_bundle`, `bundle_too_large`); 2. the policy against `trust`,
    its validity at `now` and its `objects` (the codes of `load_policy`); 3. the lineage chain
    (`lineage_broken`); 4. the last entry's data and policy digests (`data_mismatch`,
    `policy_mismatch`); 5. the host signature (`invalid_host_signature`, and `untrusted_host`
    only when `require_trusted_host`); 6. the history re-executed under every policy version
    it names (`replay_mismatch`; with `allow_legacy`, entries written before inputs were
    recorded are accepted as a re-applied prefix); 7. each entry's host signature
    (`invalid_entry_signature`; `untrusted_host` for an unknown signer when required).
    """
    bundle = parse_bundle(raw, object_id=object_id, max_bytes=max_bytes, inputs=inputs)
    policy = load_policy(
        bundle["policy"], trust, object_id=bundle["object_id"], now=now, inputs=inputs
    )
    (inputs or DEFAULT_INPUTS).check_data(bundle["data"], what="bundle data")
    _check_chain(bundle)
    _check_head_vouches(bundle, policy)
    jwk = _signer(bundle)
    trusted = _trusted(jwk, trusted_hosts)
    if require_trusted_host and not trusted:
        raise UntrustedHost(
            f"bundle from {bundle['from_host']!r} is signed by host key {thumbprint(jwk)}, "
            "which is not in this host's trusted hosts"
        )
    versions = policy_versions(
        bundle["lineage"],
        bundle.get("policies", []),
        trust,
        object_id=bundle["object_id"],
        current=policy,
        inputs=inputs,
    )
    report = check_replay(
        bundle["lineage"],
        object_id=bundle["object_id"],
        policies=versions,
        data=bundle["data"],
        allow_legacy=allow_legacy,
    )
    hosts = host_keys(bundle.get("hosts", {}).values())
    signatures = _check_entry_signatures(bundle, trusted_hosts, hosts, require_trusted_host)
    return VerifiedBundle(
        object_id=bundle["object_id"],
        policy=policy,
        data=bundle["data"],
        lineage=bundle["lineage"],
        head=bundle["head"],
        from_host=bundle["from_host"],
        exported_at=bundle["exported_at"],
        host_key=thumbprint(jwk),
        host_trusted=trusted,
        policies={digest: p.jws for digest, p in versions.items()},
        hosts=hosts,
        replay=report,
        signatures=signatures,
        requests=list(bundle.get("requests", [])),
    )


def _digest_of(jws: str) -> str:
    return "sha256:" + hashlib.sha256(jws.strip().encode("ascii", "replace")).hexdigest()


def policy_versions(
    lineage: Sequence[Mapping[str, Any]],
    policies: Sequence[str],
    trust: TrustStore,
    *,
    object_id: str,
    current: Policy | None = None,
    inputs: InputLimits | None = None,
) -> dict[str, Policy]:
    """{digest: Policy} of every version in `policies` that `lineage` names, each verified
    against `trust` at the time of the last entry made under it (an old version may have
    expired since; it must have been valid when it was used). Unnamed versions are skipped."""
    last_used: dict[str, str] = {}
    for entry in lineage:
        last_used[str(entry.get("policy"))] = str(entry.get("time"))
    versions = {} if current is None else {current.digest: current}
    for jws in policies:
        digest = _digest_of(jws)
        if digest in versions or digest not in last_used:
            continue
        try:
            when = datetime.fromisoformat(last_used[digest])
        except ValueError as exc:
            raise InvalidBundle(f"an entry under policy {digest} has no valid time") from exc
        versions[digest] = load_policy(jws, trust, object_id=object_id, now=when, inputs=inputs)
    return versions


def _check_entry_signatures(
    bundle: Mapping[str, Any],
    trusted_hosts: TrustStore | None,
    carried: Mapping[str, Mapping[str, Any]],
    require_trusted_host: bool,
) -> SignatureReport:
    trusted = host_keys([] if trusted_hosts is None else trusted_hosts.to_jwks()["keys"])
    report = check_entry_signatures(bundle["lineage"], trusted=trusted, carried=carried)
    if not report.ok:
        raise InvalidEntrySignature(str(report.reason), seq=report.first_bad or 0)
    if require_trusted_host and (report.unknown_signers or report.unsigned):
        raise UntrustedHost(
            "the bundle's history has entries signed by hosts this host does not trust "
            f"({', '.join(report.unknown_signers) or 'unsigned entries'})"
        )
    return report
