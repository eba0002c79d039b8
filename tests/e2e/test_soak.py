"""A bounded run of bench/soak.py: many objects cycling by reminder with no errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import ROOT


@pytest.mark.timeout(240)
def test_a_bounded_soak_runs_without_errors() -> None:
    argv = [sys.executable, "bench/soak.py", "--objects", "300", "--period", "2s"]
    argv += ["--warmup", "3", "--duration", "8"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=220)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["failed_cycles"] == 0
    assert report["error_log_lines"] == 0
    assert report["achieved_cycles_per_s"] > 0
