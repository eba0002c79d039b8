"""The client interfaces under clients/ are what the models give, and cover every method."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.clientgen import CLIENTS, drifted, write
from app.clientgen._java import GENERATED
from app.clientgen._schema import INTERNAL_METHODS, METHODS, interface_methods


def test_the_committed_client_interfaces_are_generated_from_the_current_models() -> None:
    assert drifted() == [], "run `python -m app.clientgen` and commit clients/"


def test_every_callable_method_of_the_python_interface_is_in_the_clients() -> None:
    generated = {m.name: m.python_name for m in METHODS}
    expected = {k: v for k, v in interface_methods().items() if k not in INTERNAL_METHODS}
    assert generated == expected


def test_a_changed_model_or_a_hand_edit_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "clients"
    shutil.copytree(CLIENTS, copy, ignore=shutil.ignore_patterns("node_modules", "target"))
    dts = copy / "js" / "resident-object.d.ts"
    dts.write_text(dts.read_text().replace("request_id?: string | null;", "request_id?: number;"))
    stray = copy / "java/src/main/java/dev/resident/client/Removed.java"
    stray.write_text(GENERATED + "\n")

    assert drifted(copy) == ["js/resident-object.d.ts", str(stray.relative_to(copy))]
    assert write(copy) == ["js/resident-object.d.ts", str(stray.relative_to(copy))]
    assert drifted(copy) == []
    assert not stray.exists()
