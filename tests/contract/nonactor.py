"""Shared set-up of the non-actor contract tests: a peer service and a sidecar pair in front of
the subscriber app, with a resources path that names the peer's port.

The peer is a second real uvicorn process of `subscriberapp` (its `/echo` route), so service
invocation and the HTTP binding cross real sockets to a non-Dapr service, as in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.contract.pair import SidecarPair
from tests.support import Proc, free_port, python_argv, wait_http

APP = "tests.contract.subscriberapp:app"
STATIC = Path(__file__).parent / "resources"

_BINDINGS = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: peerhttp
spec:
  type: bindings.http
  version: v1
  metadata:
    - name: url
      envRef: PEER_URL
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: files
spec:
  type: bindings.localstorage
  version: v1
  metadata:
    - name: rootPath
      value: {files_root}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: unserved
spec:
  type: bindings.kafka
  version: v1
  ignoreErrors: true
"""

_ENDPOINT = """\
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: peer
spec:
  baseUrl: {peer_url}
  headers:
    - name: x-endpoint-header
      value: from-httpendpoint
"""


def resources_for(workdir: Path, *, peer_url: str) -> Path:
    """The static resources plus the bindings and HTTPEndpoint that point at the peer (the
    same files for both sidecars: our daprd build registers state.sqlite too)."""
    path = workdir / "resources"
    path.mkdir(parents=True, exist_ok=True)
    for file in STATIC.glob("*.yaml"):
        # daprd opens a relative SQLite path from its working directory (the checkout).
        text = file.read_text().replace('"kvstore.db"', f'"{workdir / "kvstore.db"}"')
        (path / file.name).write_text(text)
    files_root = workdir / "files"
    (path / "bindings.yaml").write_text(_BINDINGS.format(files_root=files_root))
    (path / "httpendpoint.yaml").write_text(_ENDPOINT.format(peer_url=peer_url))
    return path


@contextlib.contextmanager
def peer_service(workdir: Path) -> Iterator[str]:
    """A non-Dapr HTTP service on loopback; yields its base URL."""
    port = free_port()
    argv = python_argv("-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port))
    proc = Proc([*argv, "--no-access-log"], log=workdir / "peer.log").start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", proc=proc)
        yield url
    finally:
        proc.stop()


@contextlib.contextmanager
def subscriber_pair(
    workdir: Path,
    *,
    sidecar: str = "localdapr",
    sidecar_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[SidecarPair, str]]:
    """The subscriber app behind `sidecar`, plus a peer; yields (pair, peer base URL)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with peer_service(workdir) as peer_url:
        resources = resources_for(workdir, peer_url=peer_url)
        env = {
            "PEER_URL": peer_url,
            "LOCALDAPR_PUBSUB_MAX_ATTEMPTS": "3",
            "LOCALDAPR_PUBSUB_BACKOFF_MS": "50",
            **(sidecar_env or {}),
        }
        with SidecarPair(
            APP, workdir, resources_path=resources, sidecar_env=env, sidecar=sidecar
        ) as pair:
            yield pair, peer_url
