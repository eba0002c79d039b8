"""An app + sidecar pair as real processes on loopback: reusable by contract and e2e tests.

The sidecar is localdapr (default) or the real daprd on a control plane
(`tests.realdapr.Daprd`); everything else about the pair is the same for both.

    with SidecarPair("tests.contract.actorapp:app", tmp_path) as pair:
        httpx.get(pair.dapr_url + "/v1.0/metadata")

Each process runs in its own process group (tests.support.Proc) on free ports, logging to
files under `workdir`. The sidecar can be killed and restarted on the same port and database
to test durability; `sdk_env()` is what a Dapr SDK client in the test process needs. Pairs
given the same `broker_db` (localdapr) or the same control plane (daprd) share one pub/sub
broker, as Dapr apps share one Redis.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from app.serve import KEEP_ALIVE_SECONDS
from tests.realdapr import ControlPlane, Daprd, LocalDapr, Sidecar
from tests.support import ROOT, Proc, eventually, free_port, python_argv, wait_http

STARTUP_TIMEOUT = 40.0


class SidecarPair:
    """`uvicorn <app>` plus `python -m localdapr` in front of it."""

    def __init__(
        self,
        app: str,
        workdir: Path,
        *,
        app_id: str = "contract",
        app_env: Mapping[str, str] | None = None,
        sidecar_env: Mapping[str, str] | None = None,
        resources_path: Path | None = None,
        log_level: str = "info",
        broker_db: Path | None = None,
        sidecar: Sidecar | str = "localdapr",
    ) -> None:
        self.app = app
        self.workdir = workdir
        self.app_id = app_id
        self.app_port = free_port()
        self.dapr_port = free_port()
        self.db = workdir / "localdapr.db"
        # "daprd": a control plane of the pair's own; a Daprd: join that one (another app).
        self.control: ControlPlane | None = None
        if sidecar == "localdapr":
            self.sidecar: Sidecar = LocalDapr(broker_db=broker_db)
        elif sidecar == "daprd":
            self.control = ControlPlane(workdir / "control")
            self.sidecar = Daprd(self.control)
        elif isinstance(sidecar, str):
            raise ValueError(f"unknown sidecar {sidecar!r}")
        else:
            self.sidecar = sidecar
        self._ports: dict[str, int] = {}
        self.resources_path = resources_path
        self.log_level = log_level
        self._app_env = dict(app_env or {})
        self._sidecar_env = dict(sidecar_env or {})
        self.app_proc: Proc | None = None
        self.sidecar_proc: Proc | None = None

    def port(self, name: str) -> int:
        """A free port for `name` (daprd's gRPC, metrics...), the same across restarts."""
        return self._ports.setdefault(name, free_port())

    @property
    def dapr_url(self) -> str:
        return f"http://127.0.0.1:{self.dapr_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def grpc_port(self) -> int:
        """The sidecar's Dapr gRPC API (daprd's, or localdapr's `--dapr-grpc-port`)."""
        return self.port("grpc")

    def sdk_env(self) -> dict[str, str]:
        """Environment a Dapr SDK client (or the app) needs to reach this sidecar."""
        env = {"DAPR_HTTP_PORT": str(self.dapr_port), "DAPR_RUNTIME_HOST": "127.0.0.1"}
        env["DAPR_GRPC_PORT"] = str(self.grpc_port)
        token = self._sidecar_env.get("DAPR_API_TOKEN")
        if token:
            env["DAPR_API_TOKEN"] = token
        return env

    def start_sidecar(self) -> None:
        env = {"DAPR_API_TOKEN": "", "APP_API_TOKEN": "", **self._sidecar_env}
        if isinstance(self.sidecar, LocalDapr):
            argv = self._localdapr_argv(self.sidecar)
        else:
            resources = self.sidecar.control.resources(
                self.resources_path or ROOT / "components", self.workdir / "resources"
            )
            argv = self.sidecar.argv(self, resources)
        log = self.workdir / f"{self.sidecar.name}.log"
        self.sidecar_proc = Proc(argv, log=log, env=env).start()
        wait_http(f"{self.dapr_url}/v1.0/healthz/outbound", proc=self.sidecar_proc)

    def _localdapr_argv(self, sidecar: LocalDapr) -> list[str]:
        argv = python_argv(
            "-m",
            "localdapr",
            *("--app-id", self.app_id, "--app-port", str(self.app_port)),
            *("--dapr-http-port", str(self.dapr_port), "--db", str(self.db)),
            *("--dapr-grpc-port", str(self.grpc_port)),
            *("--log-level", self.log_level),
        )
        if self.resources_path is not None:
            argv += ["--resources-path", str(self.resources_path)]
        if sidecar.broker_db is not None:
            argv += ["--broker-db", str(sidecar.broker_db)]
        return argv

    def start_app(self) -> None:
        argv = python_argv(
            *("-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.app_port)),
            "--no-access-log",
            *("--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)),  # as deployed (app.serve)
        )
        env = {**self.sdk_env(), "PYTHONUNBUFFERED": "1", **self._app_env}
        self.app_proc = Proc(argv, log=self.workdir / "app.log", env=env).start()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until the sidecar reports the app reachable (its /v1.0/healthz answers 204)."""
        headers = self.token_headers()

        def ready() -> bool:
            for proc in (self.sidecar_proc, self.app_proc):
                if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.argv} exited:\n{proc.output()[-4000:]}")
            url = f"{self.dapr_url}/v1.0/healthz"
            return httpx.get(url, headers=headers, timeout=2.0).status_code == 204

        try:
            eventually(ready, timeout=timeout, interval=0.1)
            if not isinstance(self.sidecar, LocalDapr):
                self.sidecar.wait_actors(self, timeout)
        except AssertionError as exc:
            raise AssertionError(f"pair not ready:\n{self.logs()}") from exc

    def token_headers(self) -> dict[str, str]:
        token = self._sidecar_env.get("DAPR_API_TOKEN")
        return {"dapr-api-token": token} if token else {}

    def start(self) -> SidecarPair:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.control is not None:
            self.control.start()
        self.start_sidecar()
        self.start_app()
        self.wait_ready()
        return self

    def kill_sidecar(self, sig: int = signal.SIGKILL) -> None:
        if self.sidecar_proc is not None:
            self.sidecar_proc.kill(sig)

    def restart_sidecar(self) -> None:
        """SIGKILL the sidecar and start a new one on the same port and database."""
        self.kill_sidecar()
        self.start_sidecar()
        self.wait_ready()

    def stop(self) -> None:
        for proc in (self.app_proc, self.sidecar_proc):
            if proc is not None:
                proc.stop()
        if self.control is not None:
            self.control.stop()

    def logs(self) -> str:
        parts = [self.control.logs()] if self.control is not None else []
        for proc in (self.sidecar_proc, self.app_proc):
            if proc is not None:
                parts.append(f"--- {proc.log.name}\n{proc.output()[-3000:]}")
        return "\n".join(parts)

    def __enter__(self) -> SidecarPair:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sdk_settings(pair: SidecarPair) -> None:
    """Point the Dapr SDK in this process at `pair` (its settings are read at call time)."""
    from dapr.conf import settings

    settings.DAPR_HTTP_PORT = pair.dapr_port
    settings.DAPR_RUNTIME_HOST = "127.0.0.1"
    token = pair.sdk_env().get("DAPR_API_TOKEN")
    settings.DAPR_API_TOKEN = token
    os.environ.pop("DAPR_HTTP_ENDPOINT", None)
