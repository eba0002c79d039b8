"""The client interfaces under clients/ are what the models give, and cover every method."""

from __future__ import annotations

import re
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


EXAMPLES = {
    "js": CLIENTS / "js" / "example.mjs",
    "java": CLIENTS / "java" / "src/main/java/dev/resident/example/Example.java",
    "go": CLIENTS / "go" / "cmd/example/main.go",
}


def readme_examples() -> dict[str, list[str]]:
    """The code blocks of README's "Calling objects from other languages", by language."""
    readme = (CLIENTS.parent / "README.md").read_text()
    section = readme.split("### Calling objects from other languages", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)
    return {language: code.splitlines() for language, code in blocks}


def test_the_readme_examples_are_extracts_of_the_programs_the_tests_run() -> None:
    examples = readme_examples()
    assert sorted(examples) == sorted(EXAMPLES)
    for language, lines in examples.items():
        source = iter(line.strip() for line in EXAMPLES[language].read_text().splitlines())
        missing = [line for line in lines if line.strip() and line.strip() not in source]
        assert missing == [], f"README's {language} example is not in {EXAMPLES[language]}"


def test_the_javascript_example_holds_the_issues_snippet_unchanged() -> None:
    source = EXAMPLES["js"].read_text()
    for line in (
        "class ResidentObject { async Command(req) {} }",
        "const proxy = new ActorProxyBuilder(ResidentObject, client)"
        '.build(new ActorId("thermostat-7"));',
        'await proxy.Command({ name: "report", params: { temperature: 41 }, token })',
    ):
        assert line in source
