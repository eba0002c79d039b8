"""The README's quick start works as written: `make run` (localdapr) or `make run-dapr` (real
daprd, placement, scheduler and Redis), then the commands it prints."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, Proc, eventually, free_port, wait_http


def readme_commands() -> list[str]:
    """The `resident` commands of the README's quick start, in order."""
    quick_start = (
        (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    )
    return [
        line.strip() for line in quick_start.splitlines() if line.startswith(".venv/bin/resident")
    ]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def printed(proc: Proc, name: str) -> str:
    match = re.search(rf"^export {name}=(\S+)$", proc.output(), re.MULTILINE)
    assert match, proc.output()
    return match.group(1)


def test_readme_names_both_ways_to_run() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run    #" in readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run-dapr" in readme.split("## Running on real Dapr", 1)[1].split("\n## ", 1)[0]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("target", ["run", pytest.param("run-dapr", marks=pytest.mark.daprd)])
def test_readme_quick_start_runs_as_written(tmp_path: Path, target: str) -> None:
    commands = readme_commands()
    assert [c.split()[1] for c in commands] == ["put-policy", "command", "show"]
    port, sidecar_port = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "APP_API", "RESIDENT_"))
    }
    env["RESIDENT_HOME"] = str(tmp_path / "home")
    argv = ["make", "--no-print-directory", target, f"PORT={port}", f"SIDECAR_PORT={sidecar_port}"]
    argv += [f"GRPC_PORT={free_port()}"]
    if target == "run-dapr":  # never the default ports of a developer's own `dapr init`
        argv += [f"{name}={free_port()}" for name in ("PLACEMENT_PORT", "SCHEDULER_PORT")]
        argv += [f"REDIS_PORT={free_port()}"]
    server = Proc(argv, log=tmp_path / "make-run.log", env=env, cwd=ROOT)
    server.env = env  # exactly this environment, nothing of the test runner's Dapr settings
    server.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        eventually(lambda: "export RESIDENT_TOKEN=" in server.output(), timeout=30)
        shell_env = {
            **env,
            "RESIDENT_URL": printed(server, "RESIDENT_URL"),
            "RESIDENT_TOKEN": printed(server, "RESIDENT_TOKEN"),
        }
        outputs = [
            subprocess.run(
                command,
                shell=True,
                cwd=ROOT,
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            for command in commands
        ]
    finally:
        server.stop()
    # Stopping `make run` stops its embedded sidecar too: nothing is left listening.
    eventually(lambda: not port_open(sidecar_port), timeout=15)
    for command, done in zip(commands, outputs, strict=True):
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}\n{server.output()}"
    shown = json.loads(outputs[-1].stdout)
    assert shown["id"] == "thermostat-1"
    assert shown["data"]["temperature"] == 35


@pytest.mark.timeout(120)
def test_resident_serve_outside_the_repository_is_ready_and_serves(tmp_path: Path) -> None:
    """No components/ where it starts: the packaged ones are used; readiness follows the
    embedded sidecar (killed: 503), where /healthz alone would still say ok."""
    port, sidecar_port = free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "APP_API", "RESIDENT_"))
    }
    env["RESIDENT_HOME"] = str(tmp_path / "home")
    resident = str(Path(sys.executable).with_name("resident"))
    argv = [resident, "dev", "--port", str(port), "--dapr-http-port", str(sidecar_port)]
    argv += ["--dapr-grpc-port", str(free_port())]
    server = Proc(argv, log=tmp_path / "serve.log", env=env, cwd=tmp_path)
    server.env = env
    server.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=server)
        # daprd keeps idle app connections 90 s: the app must not close one first (app.serve).
        assert _healthz_twice_on_one_connection(port, idle=6.0) == [200, 200]
        readyz = f"http://127.0.0.1:{port}/readyz"
        eventually(lambda: httpx.get(readyz, timeout=5).status_code == 200, timeout=30)
        token = printed(server, "RESIDENT_TOKEN")
        policy = ROOT / "policies" / "examples" / "thermostat.yaml"
        put = subprocess.run(
            [resident, "put-policy", "thermostat-out", str(policy), "--key", "dev"],
            cwd=tmp_path,
            env={**env, "RESIDENT_URL": f"http://127.0.0.1:{port}", "RESIDENT_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert put.returncode == 0, f"{put.stdout}\n{put.stderr}\n{server.output()}"
        sidecar = [
            p
            for p in Path("/proc").glob("[0-9]*")
            if "localdapr" in _cmdline(p) and f" {sidecar_port} " in _cmdline(p)
        ]
        assert sidecar, "the embedded localdapr is running"
        for proc in sidecar:
            os.kill(int(proc.name), 9)
        eventually(lambda: httpx.get(readyz, timeout=5).status_code == 503, timeout=15)
        gone = httpx.get(readyz, timeout=5)
        assert gone.headers["content-type"].startswith("application/problem+json")
    finally:
        server.stop()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _healthz_twice_on_one_connection(port: int, *, idle: float) -> list[int]:
    """Statuses of two `GET /healthz` on one keep-alive connection, `idle` seconds apart
    (longer than uvicorn's default keep-alive); a connection the server closed answers 0.
    `http.client` reads each whole response and never reconnects on its own."""
    statuses = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for attempt in range(2):
            if attempt:
                time.sleep(idle)
            try:
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
            except (http.client.HTTPException, OSError):
                statuses.append(0)
    finally:
        conn.close()
    return statuses
