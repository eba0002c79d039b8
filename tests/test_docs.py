"""README's error-code table says what the service does: every code, with its status."""

from __future__ import annotations

import re

from app.errors import STATUS_BY_CODE
from tests.support import ROOT


def documented_statuses() -> dict[str, int]:
    """`code -> status` from the README's tables of (codes, status) column pairs."""
    found: dict[str, int] = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or len(cells) % 2:
            continue
        for codes, status in zip(cells[::2], cells[1::2], strict=True):
            if status.isdigit():
                for code in re.findall(r"`([a-z_]+)`", codes):
                    found[code] = int(status)
    return found


def test_every_error_code_is_documented_with_its_status() -> None:
    documented = documented_statuses()
    assert {code: documented.get(code) for code in STATUS_BY_CODE} == STATUS_BY_CODE
