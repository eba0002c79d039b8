"""`resident lineage` prints one readable line per entry and says what refused each denial."""

from __future__ import annotations

from app.cli_history import entry_line


def test_a_denied_entry_reads_as_one_line_naming_what_refused_it() -> None:
    entry = {
        "seq": 12,
        "time": "2030-01-01T00:00:05.000000Z",
        "kind": "denied",
        "who": {"reminder": "evaluate"},
        "changes": [],
        "effects": [],
        "denied": [
            {
                "rule": "overheat",
                "action": "publish",
                "target": "pubsub/alerts",
                "reason": "'pubsub/alerts' is not allowed by the host limits",
                "by": "host_limit",
                "limit": "publish",
            },
            {
                "command": "report",
                "reason": "schema: the result would be invalid: temperature: 500 is too big",
                "by": "schema",
                "path": "temperature",
            },
        ],
        "errors": [],
        "extra": {"cycle": 4},
    }
    line = entry_line(entry)
    assert "\n" not in line
    assert line.startswith("   12 2030-01-01T00:00:05 denied     evaluate:")
    assert "rule 'overheat': publish 'pubsub/alerts' refused by the host's publish limit" in line
    assert "command 'report' refused by the schema at temperature" in line


def test_a_command_entry_shows_its_changes_and_effects() -> None:
    entry = {
        "seq": 3,
        "time": "2030-01-01T00:00:01.000000Z",
        "kind": "command",
        "who": {"iss": "https://ops.example", "sub": "s1"},
        "changes": [
            {"op": "set", "path": "temperature", "value": 41},
            {"op": "unset", "path": "x"},
        ],
        "effects": [{"kind": "publish", "topic": "alerts", "data": {}}],
        "denied": [],
        "errors": [],
        "extra": {"command": "report"},
    }
    assert entry_line(entry) == (
        "    3 2030-01-01T00:00:01 command    s1: command report set temperature=41, -x "
        "emits alerts"
    )
