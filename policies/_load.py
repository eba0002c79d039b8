"""Reading, signing and loading policies, with a bounded cache of compiled policies.

Verification and compilation cost far more than a cycle, and the same JWS is loaded on every
actor activation, so compiled policies are cached by (digest, trust store). Time validity and
the object id are still checked on every call: a cached policy can expire.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import rfc8785
import yaml

from ._clock import utc_now
from ._compile import Compiled, compile_document
from ._errors import (
    InvalidPolicy,
    PolicyExpired,
    PolicyNotYetValid,
    PolicyTooLarge,
    TooDeep,
    UnsignedPolicy,
)
from ._flowcheck import yaml_keys
from ._inputs import InputLimits
from ._model import PolicyDocument, parse_document
from ._policy import Policy
from ._signing import (
    POLICY_TYP,
    SigningKey,
    TrustStore,
    _short,
    issuer_of,
    sign_compact,
    verify_compact,
)

CACHE_SIZE = 256
# Policies come from callers too (create, amend, import): bound the cache by bytes of signed
# policy as well (the compiled form is a small multiple of it).
CACHE_BYTES = 32 * 1024 * 1024
DEFAULT_INPUTS = InputLimits()
EXAMPLES = Path(__file__).resolve().parent / "examples"

_cache: OrderedDict[tuple[str, str, InputLimits], Policy] = OrderedDict()
_lock = threading.Lock()


def clear_policy_cache() -> None:
    """Forget every compiled policy (tests and cold-load benchmarks)."""
    with _lock:
        _cache.clear()


def cache_bytes() -> int:
    """Bytes of signed policy the compiled-policy cache holds (call with `_lock` held)."""
    return sum(len(policy.jws) for policy in _cache.values())


def read_document(text: str | bytes) -> dict[str, Any]:
    """Parse a YAML or JSON policy document (JSON is YAML) into a dict."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidPolicy(f"not valid YAML/JSON: {exc}") from exc
    except RecursionError as exc:  # PyYAML's composer recurses once per nesting level
        raise TooDeep("the policy document nests thousands of levels deep; flatten it") from exc
    if not isinstance(doc, dict):
        raise InvalidPolicy("a policy document must be a mapping at the top level")
    return doc


def example_document(name: str) -> dict[str, Any]:
    """A shipped example, e.g. "thermostat" or "purchase_approval" (no `iss`/`iat`)."""
    path = EXAMPLES / f"{name}.yaml"
    if path.parent != EXAMPLES or not path.is_file():
        raise InvalidPolicy(f"no example policy named {name!r}")
    return read_document(path.read_text())


def sign_policy(
    document: Mapping[str, Any],
    key: SigningKey,
    *,
    now: datetime | None = None,
    inputs: InputLimits | None = None,
) -> str:
    """Validate `document` and sign it as a compact JWS.

    A missing `iss` is filled from `key.issuer`, a missing `iat` from `now`. The whole
    document is compiled and checked against `inputs` (default limits when None) first, so a
    policy that would not load on a host with those limits is never signed.
    """
    inputs = inputs or DEFAULT_INPUTS
    inputs.check_depth(document, what="policy document", envelope=True)
    doc = yaml_keys(document)
    if "iss" not in doc:
        if key.issuer is None:
            raise InvalidPolicy("document has no 'iss' and the key names no issuer; set one")
        doc["iss"] = key.issuer
    if key.issuer is not None and doc["iss"] != key.issuer:
        raise InvalidPolicy(f"iss {doc['iss']!r} differs from the key's issuer {key.issuer!r}")
    doc.setdefault("iat", int(utc_now(now).timestamp()))
    payload, _, _ = _checked_document(doc, inputs)
    return sign_compact(payload, key, typ=POLICY_TYP)


def _checked_document(
    doc: dict[str, Any], inputs: InputLimits
) -> tuple[bytes, PolicyDocument, Compiled]:
    """Everything a host checks of a document before it would load it: the model, plain
    JSON within `max_policy_bytes`, the counts and lengths of `inputs`, and compiling."""
    parsed = parse_document(doc)
    try:
        payload = bytes(rfc8785.dumps(doc))
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise InvalidPolicy(f"document is not plain JSON: {exc}") from exc
    if len(payload) > inputs.max_policy_bytes:
        raise PolicyTooLarge(
            f"document is {len(payload)} bytes; the limit is {inputs.max_policy_bytes}"
        )
    inputs.check_document(parsed)
    return payload, parsed, compile_document(parsed)


def load_policy(
    jws: str | bytes,
    trust: TrustStore,
    *,
    object_id: str | None = None,
    now: datetime | None = None,
    inputs: InputLimits | None = None,
) -> Policy:
    """Verify, validate and compile a signed policy (cached), then check exp/nbf at `now`
    and, when given, that `object_id` is governed.

    `inputs` are the host's size, depth and count limits (defaults when None). They are part
    of the cache key, so a cached policy was checked against the very limits asked for."""
    inputs = inputs or DEFAULT_INPUTS
    token = _as_text(jws, inputs.max_policy_bytes)
    digest = "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()
    key = (digest, trust.fingerprint, inputs)
    with _lock:
        policy = _cache.get(key)
        if policy is not None:
            _cache.move_to_end(key)
    if policy is None:
        policy = _build(token, digest, trust, inputs)
        with _lock:
            _cache[key] = policy
            while len(_cache) > 1 and (len(_cache) > CACHE_SIZE or cache_bytes() > CACHE_BYTES):
                _cache.popitem(last=False)
    _check_time(policy, utc_now(now))
    if object_id is not None:
        policy.check_object(object_id)
    return policy


def draft_policy(document: Mapping[str, Any], *, inputs: InputLimits | None = None) -> Policy:
    """An unsigned policy document compiled for a dry run (never installed: it has no
    signature, so no host would load it). Checked exactly as signing would check it; its
    digest is "draft:" + sha256 of its canonical JSON, so it never equals a signed one's."""
    inputs = inputs or DEFAULT_INPUTS
    inputs.check_depth(document, what="policy document", envelope=True)
    doc = yaml_keys(document)
    doc.setdefault("iss", "draft")
    doc.setdefault("iat", 0)
    payload, parsed, compiled = _checked_document(doc, inputs)
    digest = "draft:" + hashlib.sha256(payload).hexdigest()
    return Policy(jws="", digest=digest, document=parsed, _compiled=compiled)


def _as_text(jws: Any, limit: int) -> str:
    if isinstance(jws, bytes):
        if len(jws) > limit:
            raise PolicyTooLarge(f"signed policy is {len(jws)} bytes; limit {limit}")
        try:
            jws = jws.decode("ascii")
        except UnicodeDecodeError as exc:
            raise UnsignedPolicy("not a compact JWS: it must be ASCII") from exc
    if not isinstance(jws, str):
        raise UnsignedPolicy(f"a signed policy is a compact JWS string, not {type(jws).__name__}")
    if len(jws) > limit:
        raise PolicyTooLarge(
            f"signed policy is {len(jws)} bytes; the limit is {limit} "
            "(RESIDENT_MAX_POLICY_BYTES); shrink it"
        )
    if not jws.isascii():
        raise UnsignedPolicy("not a compact JWS: it must be ASCII")
    return jws.strip()


def _build(token: str, digest: str, trust: TrustStore, inputs: InputLimits) -> Policy:
    verified = verify_compact(token, trust)
    if verified.header.get("typ") != POLICY_TYP:
        raise UnsignedPolicy(
            f"not a signed policy: typ {_short(verified.header.get('typ'))} is not {POLICY_TYP!r} "
            "(a caller token is never a policy); sign the document with sign_policy"
        )
    issuer_of(verified)  # verify_compact matched `iss` to the key's issuer; there must be one
    inputs.check_depth(verified.payload, what="policy document", envelope=True)
    document = parse_document(verified.payload)
    inputs.check_document(document)
    return Policy(jws=token, digest=digest, document=document, _compiled=compile_document(document))


def _check_time(policy: Policy, now: datetime) -> None:
    stamp = now.timestamp()
    exp, nbf = policy.document.exp, policy.document.nbf
    if exp is not None and stamp >= exp:
        raise PolicyExpired(
            f"policy {policy.id!r} v{policy.version} expired at {exp} (now {int(stamp)}); "
            "load a freshly signed version"
        )
    if nbf is not None and stamp < nbf:
        raise PolicyNotYetValid(
            f"policy {policy.id!r} v{policy.version} is not valid before {nbf} "
            f"(now {int(stamp)}); retry later"
        )
