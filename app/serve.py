"""`resident serve`: the app under uvicorn, with an embedded localdapr unless under real Dapr.

Under `dapr run` or Kubernetes, daprd sets DAPR_HTTP_PORT and this only runs uvicorn. On a
laptop it starts `python -m localdapr` beside the app with fresh random API tokens both ways,
so nothing else on the machine can call the actor routes or the sidecar.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import uvicorn


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    dapr_http_port: int = 3500
    dapr_grpc_port: int = 50001  # the Dapr gRPC API: Java and Go SDKs call actors through it
    app_id: str = "resident"
    home: Path = Path(".resident")
    resources_path: Path = Path("components")
    log_level: str = "info"


# How long the app keeps an idle keep-alive connection open (seconds). daprd's app channel keeps
# idle connections for Go's default 90 s; uvicorn's own default, 5 s, lets it close one just as
# daprd reuses it, and daprd then fails that actor call ("connection reset by peer") instead of
# retrying it. Longer than daprd's, so daprd is always the side that lets a connection go.
KEEP_ALIVE_SECONDS = 120

# The components Resident ships with the package (the repository's components/ links here),
# so `resident serve` works from any folder, not only from a checkout.
PACKAGED_COMPONENTS = Path(__file__).resolve().parent / "components"


def default_resources() -> Path:
    """./components when there is one (a checkout, or the user's own), else the packaged."""
    here = Path("components")
    return here if here.is_dir() else PACKAGED_COMPONENTS


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends it SIGTERM when `resident` dies.

    uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown, so `resident`'s own clean-up
    may never run; without this an embedded sidecar would outlive it (Linux only).
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_embedded_sidecar(options: ServeOptions) -> subprocess.Popen[bytes]:
    """Start localdapr for this app and point the app's environment at it."""
    os.environ["DAPR_HTTP_PORT"] = str(options.dapr_http_port)
    os.environ["DAPR_GRPC_PORT"] = str(options.dapr_grpc_port)
    os.environ.setdefault("DAPR_API_TOKEN", secrets.token_urlsafe(24))
    os.environ.setdefault("APP_API_TOKEN", secrets.token_urlsafe(24))
    options.home.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "localdapr",
        "--app-id", options.app_id,
        "--app-port", str(options.port),
        "--dapr-http-port", str(options.dapr_http_port),
        "--dapr-grpc-port", str(options.dapr_grpc_port),
        "--resources-path", str(options.resources_path),
        "--db", str(options.home / "localdapr.db"),
    ]  # fmt: skip
    # Same process group as the app: a Ctrl-C in the terminal reaches both.
    return subprocess.Popen(argv, env=dict(os.environ), preexec_fn=_die_with_parent)  # noqa: S603


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def serve(options: ServeOptions) -> int:
    """Run until interrupted; returns the process exit code."""
    sidecar = None if "DAPR_HTTP_PORT" in os.environ else start_embedded_sidecar(options)
    os.environ.setdefault("RESIDENT_HOME", str(options.home))
    os.environ.setdefault("RESIDENT_GENERATE_HOST_KEY", "true")  # a laptop host: one replica
    os.environ.setdefault("RESIDENT_TRUST", str(options.home / "trust.jwks.json"))
    try:
        uvicorn.run(
            "app.main:app",
            host=options.host,
            port=options.port,
            log_level=options.log_level,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if sidecar is not None:
            stop(sidecar)
    return 0
