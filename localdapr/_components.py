"""Dapr resource YAMLs from the resources path: components, subscriptions, HTTP endpoints.

The same directory is handed to `dapr run --resources-path`, so it is read as daprd reads it:
every `*.yaml`/`*.yml` file, several `---` documents per file, `scopes` limiting a resource to
listed app ids, and kinds localdapr does not serve (Configuration, Resiliency, ...) tolerated.
A file that cannot be parsed stops start-up with an error naming the file: a sidecar that
silently lacks a component fails much later and far less clearly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger("localdapr.components")

_IGNORED_KINDS = frozenset({"Configuration", "Resiliency", "Secret", "Policy"})


class ResourceError(ValueError):
    """A resource file is unreadable or malformed; fix the file, a retry will not help."""


@dataclass(frozen=True, slots=True)
class Component:
    """One `kind: Component`; `metadata` is its spec.metadata as a name -> string mapping."""

    name: str
    type: str
    version: str = "v1"
    metadata: dict[str, str] = field(default_factory=dict)
    # spec.ignoreErrors: a component that cannot start is dropped instead of stopping the
    # sidecar (daprd's rule: without it, a component daprd cannot build is a fatal error).
    ignore_errors: bool = False

    @property
    def family(self) -> str:
        """The part of the type before the first dot: state, pubsub, bindings, ..."""
        return self.type.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription, declarative (YAML) or programmatic (the app's /dapr/subscribe)."""

    pubsubname: str
    topic: str
    # (CEL match or "" for always, path); daprd folds `route` and `routes.default` in last.
    rules: tuple[tuple[str, str], ...]
    dead_letter_topic: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    kind: str = "DECLARATIVE"

    def describe(self) -> dict[str, Any]:
        """This subscription as GET /v1.0/metadata lists it."""
        return {
            "pubsubname": self.pubsubname,
            "topic": self.topic,
            "deadLetterTopic": self.dead_letter_topic,
            "metadata": dict(self.metadata),
            "rules": [{"match": m, "path": p} for m, p in self.rules],
            "type": self.kind,
        }


@dataclass(frozen=True, slots=True)
class HTTPEndpoint:
    """A non-Dapr service reachable by service invocation under `name`."""

    name: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resources:
    components: tuple[Component, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    http_endpoints: tuple[HTTPEndpoint, ...] = ()

    def of_family(self, family: str) -> list[Component]:
        return [c for c in self.components if c.family == family]


def load_resources(path: Path | None, *, app_id: str) -> Resources:
    """Every resource in `path` scoped to `app_id`; an empty set when there is no path."""
    if path is None:
        return Resources()
    if not Path(path).is_dir():
        raise ResourceError(f"resources path {str(path)!r} is not a directory")
    components: list[Component] = []
    subscriptions: list[Subscription] = []
    endpoints: list[HTTPEndpoint] = []
    for file in sorted(Path(path).iterdir()):
        if file.suffix not in (".yaml", ".yml") or not file.is_file():
            continue
        for doc in _documents(file):
            try:
                _collect(doc, app_id, components, subscriptions, endpoints)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise ResourceError(f"{file}: invalid {doc.get('kind')!r}: {exc}") from exc
    return Resources(tuple(components), tuple(subscriptions), tuple(endpoints))


def _documents(file: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(file.read_text()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ResourceError(f"{file}: cannot read resource YAML: {exc}") from exc
    for doc in docs:
        if doc is not None and not isinstance(doc, dict):
            raise ResourceError(f"{file}: a resource must be a mapping, got {type(doc).__name__}")
    return [d for d in docs if d]


def _collect(
    doc: dict[str, Any],
    app_id: str,
    components: list[Component],
    subscriptions: list[Subscription],
    endpoints: list[HTTPEndpoint],
) -> None:
    kind = doc.get("kind")
    scopes = doc.get("scopes") or []
    if scopes and app_id not in scopes:
        return
    if kind == "Component":
        components.append(_component(doc))
    elif kind == "Subscription":
        subscriptions.append(_declarative_subscription(doc))
    elif kind == "HTTPEndpoint":
        endpoints.append(_http_endpoint(doc))
    elif kind not in _IGNORED_KINDS:
        log.info("ignoring resource of kind %r (not served by localdapr)", kind)


def _name(doc: dict[str, Any]) -> str:
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("metadata.name is required")
    return name


def _component(doc: dict[str, Any]) -> Component:
    spec = doc.get("spec") or {}
    ctype = spec.get("type")
    if not isinstance(ctype, str) or "." not in ctype:
        raise ValueError("spec.type like 'state.sqlite' is required")
    items = spec.get("metadata") or []
    return Component(
        name=_name(doc),
        type=ctype,
        version=str(spec.get("version") or "v1"),
        metadata={str(i["name"]): _value(i) for i in items},
        ignore_errors=spec.get("ignoreErrors") in (True, "true"),
    )


def _value(item: dict[str, Any]) -> str:
    """A metadata value as daprd sees it: the literal `value`, else the `envRef` variable."""
    if item.get("value") is None and "envRef" in item:
        return os.environ.get(str(item["envRef"]), "")
    if item.get("value") is None and "secretKeyRef" in item:
        log.warning("metadata %r uses secretKeyRef, which localdapr cannot resolve", item["name"])
        return ""
    value = item.get("value", "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _declarative_subscription(doc: dict[str, Any]) -> Subscription:
    spec = doc.get("spec") or {}
    return subscription_from(spec, kind="DECLARATIVE")


def subscription_from(raw: dict[str, Any], *, kind: str) -> Subscription:
    """A subscription from daprd's v1alpha1 (`route`) or v2alpha1 (`routes`) shape."""
    pubsub, topic = raw.get("pubsubname"), raw.get("topic")
    if not isinstance(pubsub, str) or not pubsub or not isinstance(topic, str) or not topic:
        raise ValueError("pubsubname and topic are required")
    rules: list[tuple[str, str]] = []
    routes = raw.get("routes") or {}
    for rule in routes.get("rules") or []:
        rules.append((str(rule.get("match") or ""), _path(rule.get("path"))))
    default = routes.get("default") or raw.get("route")
    if default:
        rules.append(("", _path(default)))
    if not rules:
        raise ValueError(f"subscription to {pubsub}/{topic} has no route")
    return Subscription(
        pubsubname=pubsub,
        topic=topic,
        rules=tuple(rules),
        dead_letter_topic=str(raw.get("deadLetterTopic") or ""),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        kind=kind,
    )


def _path(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"route path must be a non-empty string, got {value!r}")
    return value if value.startswith("/") else "/" + value


def _http_endpoint(doc: dict[str, Any]) -> HTTPEndpoint:
    spec = doc.get("spec") or {}
    base = spec.get("baseUrl")
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise ValueError("spec.baseUrl must be an http(s) URL")
    headers = {str(h["name"]): _value(h) for h in spec.get("headers") or []}
    return HTTPEndpoint(name=_name(doc), base_url=base.rstrip("/"), headers=headers)
