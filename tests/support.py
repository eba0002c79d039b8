"""Helpers shared by every test tier: polling, free ports and real processes on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, and that this test process
    has not handed out before: the kernel may give a released port to the next bind(0), so
    two servers started side by side (an app and a control plane's metrics) could get the
    same one before either listens."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def eventually(fn: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll `fn` until it returns a truthy value without raising; re-raise the last failure."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = AssertionError(f"{fn!r} returned {value!r}")
        except (AssertionError, httpx.HTTPError, OSError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s") from last
        time.sleep(interval)


async def eventually_async(
    fn: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """The async twin of `eventually`."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = await fn()
            if value:
                return value
            last = AssertionError(f"{fn!r} returned {value!r}")
        except (AssertionError, httpx.HTTPError, OSError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {timeout}s") from last
        await asyncio.sleep(interval)


class Proc:
    """A child process in its own process group, with its output kept in a log file."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd or ROOT
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        out.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group (uvicorn workers included) and reap the leader."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def python_argv(*args: str) -> list[str]:
    """argv running this interpreter (the project venv's) with the given arguments."""
    return [sys.executable, *args]


def wait_http(url: str, *, timeout: float = 30.0, proc: Proc | None = None) -> None:
    """Wait until `url` answers with any status below 500; fail early if `proc` exits."""

    def ready() -> bool:
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.argv} exited early:\n{proc.output()[-4000:]}")
        return httpx.get(url, timeout=2.0).status_code < 500

    try:
        eventually(ready, timeout=timeout, interval=0.1)
    except AssertionError as exc:
        detail = proc.output()[-4000:] if proc else ""
        raise AssertionError(f"{url} not ready in {timeout}s\n{detail}") from exc


@contextlib.contextmanager
def running(*procs: Proc) -> Iterator[tuple[Proc, ...]]:
    """Start processes and always stop them, in reverse order."""
    started: list[Proc] = []
    try:
        for proc in procs:
            started.append(proc.start())
        yield tuple(started)
    finally:
        for proc in reversed(started):
            proc.stop()
