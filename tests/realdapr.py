"""Real Dapr on loopback: Redis, placement, scheduler and daprd (built by `make dapr`).

A `ControlPlane` is one self-hosted Dapr installation, what `dapr init` would start: its own
Redis (Debian's redis-server, on a free port, never :6379), placement and scheduler (etcd data
in its work folder). Apps join it through `Daprd`, a sidecar kind `tests.contract.pair`
understands; every app on one control plane shares its Redis (state and pub/sub) and its
placement tables, as replicas of one deployment do. Separate hosts get separate control planes.

Also a script for people (`make run-dapr`): `python -m tests.realdapr` starts a control plane,
daprd with the repository's `components/`, and the Resident app, and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support import ROOT, Proc, eventually, free_port, wait_http

if TYPE_CHECKING:
    from tests.contract.pair import SidecarPair

DAPR_BIN = Path(os.environ.get("RESIDENT_DAPR_BIN", ROOT / ".dapr" / "bin"))
# The Redis address our components/ name; rewritten to each control plane's own Redis.
_DEFAULT_REDIS = re.compile(r"\blocalhost:6379\b")


def binary(name: str) -> str:
    """Path of a runtime binary; a clear failure (not a skip) when `make dapr` has not run."""
    path = DAPR_BIN / name
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: run `make dapr` (needs Go) to build the runtime")
    return str(path)


def redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server is missing: run `make redis` (Debian: redis-server)")
    return found


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(16).startswith(b"+PONG")


@dataclass
class ControlPlane:
    """Redis + placement + scheduler on free loopback ports, logs and data under `workdir`."""

    workdir: Path
    redis_persistence: bool = False
    redis_port: int = field(default_factory=free_port)
    placement_port: int = field(default_factory=free_port)
    scheduler_port: int = field(default_factory=free_port)
    _ports: dict[str, int] = field(default_factory=dict)
    redis: Proc | None = None
    placement: Proc | None = None
    scheduler: Proc | None = None

    def port(self, name: str) -> int:
        """A free port for `name`, the same one every time it is asked for (restarts)."""
        return self._ports.setdefault(name, free_port())

    @property
    def redis_address(self) -> str:
        return f"127.0.0.1:{self.redis_port}"

    def start(self) -> ControlPlane:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        self.start_placement()
        self.start_scheduler()
        return self

    def start_redis(self) -> None:
        data = self.workdir / "redis"
        data.mkdir(exist_ok=True)
        argv = [redis_server(), "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(data), "--save", "", "--protected-mode", "no"]
        argv += ["--appendonly", "yes" if self.redis_persistence else "no"]
        self.redis = Proc(argv, log=self.workdir / "redis.log").start()
        eventually(lambda: redis_ping(self.redis_port), timeout=15, interval=0.05)

    def start_placement(self) -> None:
        healthz = self.port("placement-healthz")
        argv = [binary("placement"), "--port", str(self.placement_port)]
        argv += ["--listen-address", "127.0.0.1", "--healthz-port", str(healthz)]
        argv += ["--healthz-listen-address", "127.0.0.1"]
        argv += ["--metrics-port", str(self.port("placement-metrics"))]
        argv += ["--initial-cluster", f"dapr-placement-0=127.0.0.1:{self.port('placement-raft')}"]
        self.placement = Proc(argv, log=self.workdir / "placement.log").start()
        wait_http(f"http://127.0.0.1:{healthz}/healthz", proc=self.placement)

    def start_scheduler(self) -> None:
        healthz = self.port("scheduler-healthz")
        peer = self.port("scheduler-etcd-peer")
        argv = [binary("scheduler"), "--port", str(self.scheduler_port)]
        argv += ["--listen-address", "127.0.0.1", "--healthz-port", str(healthz)]
        argv += ["--healthz-listen-address", "127.0.0.1"]
        argv += ["--metrics-port", str(self.port("scheduler-metrics"))]
        argv += ["--etcd-data-dir", str(self.workdir / "scheduler-etcd")]
        argv += ["--etcd-client-port", str(self.port("scheduler-etcd-client"))]
        argv += ["--etcd-initial-cluster", f"dapr-scheduler-server-0=http://127.0.0.1:{peer}"]
        self.scheduler = Proc(argv, log=self.workdir / "scheduler.log").start()
        wait_http(f"http://127.0.0.1:{healthz}/healthz", timeout=60, proc=self.scheduler)

    def stop(self) -> None:
        for proc in (self.scheduler, self.placement, self.redis):
            if proc is not None:
                proc.stop()

    def resources(self, source: Path, dest: Path) -> Path:
        """Copy a resources folder, pointing every Redis address at this control plane."""
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(source.glob("*.y*ml")):
            text = _DEFAULT_REDIS.sub(self.redis_address, path.read_text())
            (dest / path.name).write_text(text)
        return dest

    def logs(self) -> str:
        parts = []
        for proc in (self.redis, self.placement, self.scheduler):
            if proc is not None:
                parts.append(f"--- {proc.log.name}\n{proc.output()[-2000:]}")
        return "\n".join(parts)


@dataclass(frozen=True)
class LocalDapr:
    """Our embedded sidecar; apps given the same `broker_db` share one pub/sub broker."""

    broker_db: Path | None = None
    name: str = "localdapr"

    def joined_by(self, pair: SidecarPair) -> LocalDapr:
        """The sidecar kind for another app on the same installation as `pair`."""
        return LocalDapr(broker_db=self.broker_db or pair.db)


@dataclass(frozen=True)
class Daprd:
    """The real daprd, joined to a control plane (its Redis, placement and scheduler)."""

    control: ControlPlane
    max_body_size: str = "32Mi"
    name: str = "daprd"

    def joined_by(self, pair: SidecarPair) -> Daprd:
        return self

    def argv(self, pair: SidecarPair, resources: Path) -> list[str]:
        port = pair.port
        argv = [binary("daprd"), "--mode", "standalone", "--app-id", pair.app_id]
        argv += ["--app-port", str(pair.app_port), "--app-protocol", "http"]
        argv += ["--app-channel-address", "127.0.0.1", "--dapr-listen-addresses", "127.0.0.1"]
        argv += ["--dapr-http-port", str(pair.dapr_port), "--dapr-grpc-port", str(port("grpc"))]
        argv += ["--dapr-internal-grpc-port", str(port("internal-grpc"))]
        argv += ["--dapr-internal-grpc-listen-address", "127.0.0.1"]
        argv += ["--metrics-port", str(port("metrics")), "--metrics-listen-address", "127.0.0.1"]
        argv += ["--placement-host-address", f"127.0.0.1:{self.control.placement_port}"]
        argv += ["--scheduler-host-address", f"127.0.0.1:{self.control.scheduler_port}"]
        argv += ["--resources-path", str(resources), "--log-level", pair.log_level]
        argv += ["--max-body-size", self.max_body_size]
        config = resources / "config.yaml"
        if config.exists():
            argv += ["--config", str(config)]
        return argv

    def wait_actors(self, pair: SidecarPair, timeout: float) -> None:
        """Until daprd's actor runtime is connected to placement (when the app hosts actors)."""

        def ready() -> bool:
            url = f"{pair.dapr_url}/v1.0/metadata"
            body = httpx.get(url, headers=pair.token_headers(), timeout=2.0).json()
            actors = body.get("actorRuntime") or {}
            if not actors.get("activeActors"):
                return True  # the app hosts no actor type
            return (
                bool(actors.get("hostReady")) and actors.get("placement") == "placement: connected"
            )

        eventually(ready, timeout=timeout, interval=0.1)


Sidecar = LocalDapr | Daprd
LOCALDAPR = LocalDapr()


def _reuse_or_start_redis(control: ControlPlane) -> None:
    """`dapr init` leaves a Redis on :6379; use one that answers there, else start ours."""
    try:
        if redis_ping(control.redis_port):
            return
    except OSError:
        pass
    control.start_redis()


def _serve(args: argparse.Namespace) -> int:
    """Redis, placement and scheduler where `dapr init` puts them, then for each replica daprd
    with components/ and both API tokens and the app (the first one `resident dev`: the same
    dev key, token and hints as `make run`), all sharing the app id and one host key."""
    from app.hostkey import ensure_host_key

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="resident-dapr-"))
    control = ControlPlane(
        workdir / "control",
        redis_persistence=True,
        redis_port=args.redis_port,
        placement_port=args.placement_port,
        scheduler_port=args.scheduler_port,
    )
    home = Path(os.environ.get("RESIDENT_HOME", ROOT / ".resident"))
    ensure_host_key(home / "host-key.pem", generate=True)  # one identity for every replica
    replicas: list[tuple[SidecarPair, subprocess.Popen[bytes]]] = []
    try:
        control.workdir.mkdir(parents=True, exist_ok=True)
        _reuse_or_start_redis(control)
        control.start_placement()
        control.start_scheduler()
        for n in range(args.replicas):
            replicas.append(_start_replica(args, n, control, workdir, home))
        for pair, _ in replicas:
            pair.wait_ready(timeout=60)
        apps = ", ".join(pair.app_url for pair, _ in replicas)
        print(
            f"\nOn real daprd {DAPR_BIN / 'daprd'}: app(s) {apps}; Redis "
            f"{control.redis_address}, placement :{control.placement_port}, scheduler "
            f":{control.scheduler_port}; logs in {workdir}. Ctrl-C stops all.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.signal(signal.SIGINT, _interrupt)
            while True:
                time.sleep(3600)
    finally:
        for pair, app in reversed(replicas):
            if app.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(app.pid, signal.SIGTERM)
                app.wait(timeout=15)
            pair.stop()
        control.stop()
    return 0


def _start_replica(
    args: argparse.Namespace, n: int, control: ControlPlane, workdir: Path, home: Path
) -> tuple[SidecarPair, subprocess.Popen[bytes]]:
    from tests.contract.pair import SidecarPair

    tokens = {"DAPR_API_TOKEN": secrets.token_hex(16), "APP_API_TOKEN": secrets.token_hex(16)}
    pair = SidecarPair(
        "app.main:app",
        workdir / f"replica-{n}",
        app_id="resident",
        resources_path=ROOT / "components",
        sidecar=Daprd(control),
        sidecar_env=tokens,
    )
    pair.app_port, pair.dapr_port = args.port + n, args.dapr_http_port + n
    pair._ports["grpc"] = args.dapr_grpc_port + n  # where the Java and Go SDKs look (50001)
    pair.workdir.mkdir(parents=True, exist_ok=True)
    pair.start_sidecar()
    env = {**os.environ, **tokens, "DAPR_HTTP_PORT": str(pair.dapr_port)}
    env.update(RESIDENT_HOST_ID=args.host_id, RESIDENT_HOME=str(home))
    resident = str(Path(sys.executable).with_name("resident"))
    argv = [resident, "dev" if n == 0 else "serve", "--port", str(pair.app_port)]
    app = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)
    return pair, app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realdapr", description=_serve.__doc__)
    parser.add_argument("--port", type=int, default=8000, help="the app's port")
    parser.add_argument("--dapr-http-port", type=int, default=3500)
    parser.add_argument("--dapr-grpc-port", type=int, default=50001)
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--placement-port", type=int, default=50005)
    parser.add_argument("--scheduler-port", type=int, default=50006)
    parser.add_argument("--host-id", default="resident-local")
    parser.add_argument("--replicas", type=int, default=1, help="app + daprd pairs, one app id")
    parser.add_argument("--workdir", help="where logs and data go (default: a temp folder)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    return _serve(args)


def _interrupt(signum: int, frame: object) -> None:
    """Stop once: `make` passes a second SIGTERM on, which must not cut the clean-up short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
