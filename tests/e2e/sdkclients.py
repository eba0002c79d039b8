"""The client programs under clients/ (JavaScript, Java, Go), built as their users build them.

Each build copies its folder into a fresh one and installs from the committed lock (`npm ci`,
`go.sum`, Maven offline from its local repository): downloads come from the caches `make
clients` filled, nothing from an earlier build folder. A program prints one JSON line per step,
`{"step": ..., "reply": ...}`; `ClientProgram.run` returns those lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import ROOT

CLIENTS = ROOT / "clients"
BUILD_TIMEOUT = 600.0
RUN_TIMEOUT = 120.0


class ClientBuildError(RuntimeError):
    """A client did not build; the message has the tool's output and the fix."""


@dataclass(frozen=True)
class ClientProgram:
    language: str
    argv: list[str]
    cwd: Path

    def run(self, env: Mapping[str, str]) -> list[dict[str, Any]]:
        """Run the program against a sidecar; its steps, or an AssertionError with its output."""
        done = subprocess.run(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{self.language} client exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
            )
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _tool(name: str, fix: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ClientBuildError(f"`{name}` is not on PATH: {fix}")
    return found


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise ClientBuildError(
            f"{' '.join(argv)} failed in {cwd} (run `make clients` first):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def _fresh_copy(language: str, dest: Path) -> Path:
    ignore = shutil.ignore_patterns("node_modules", "target")
    shutil.copytree(CLIENTS / language, dest, ignore=ignore)
    return dest


def build_js(dest: Path) -> ClientProgram:
    """`npm ci` from package-lock.json, and the generated declaration checked by `tsc`."""
    npm = _tool("npm", "install Node.js 18+ with npm")
    work = _fresh_copy("js", dest)
    _run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"], work)
    tsc = work / "node_modules" / ".bin" / "tsc"
    _run([str(tsc), "--noEmit", "--strict", "resident-object.d.ts"], work)
    return ClientProgram("javascript", [_tool("node", "install Node.js"), "example.mjs"], work)


def build_java(dest: Path) -> ClientProgram:
    """Maven offline (`-o`) from the local repository `make clients` filled."""
    mvn = _tool("mvn", "install Maven and a JDK 17+")
    work = _fresh_copy("java", dest)
    classpath = work / "target" / "classpath.txt"
    _run([mvn, "-o", "-q", "-B", "package", "dependency:build-classpath",
          f"-Dmdep.outputFile={classpath}"], work)  # fmt: skip
    jars = classpath.read_text().strip()
    argv = [_tool("java", "install a JDK 17+"), "-cp", f"{work / 'target' / 'classes'}:{jars}"]
    return ClientProgram("java", [*argv, "dev.resident.example.Example"], work)


def build_go(dest: Path) -> ClientProgram:
    """`go build` against go.sum (read-only), after checking the generated code is gofmt-clean."""
    go = _tool("go", "install Go 1.24+")
    work = _fresh_copy("go", dest)
    unformatted = _run([str(Path(go).with_name("gofmt")), "-l", "."], work).strip()
    if unformatted:
        raise ClientBuildError(f"not gofmt-clean: {unformatted}")
    _run([go, "build", "-mod=readonly", "-o", "example", "./cmd/example"], work)
    return ClientProgram("go", [str(work / "example")], work)


BUILDERS = {"javascript": build_js, "java": build_java, "go": build_go}
