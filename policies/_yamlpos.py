"""A policy file's YAML nodes, so every problem can name the line and column it is about.

`yaml.safe_load` throws positions away; the composer keeps them on each node. We compose once,
construct the value from the same nodes, and answer "where is `rules.2.when`?" by walking
the node tree along a pydantic-style location. Walks are iterative and remember visited nodes,
so an alias-heavy document (a "billion laughs") costs its node count, not its expansion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ._errors import InvalidPolicy, TooDeep

Loc = tuple[str | int, ...]
# Comments make a YAML file larger than the JSON it signs as; still, bound what we read.
MAX_SOURCE_BYTES = 4 * 1024 * 1024
# Aliases let a few lines stand for millions of values; a signed policy is at most 256 KiB of
# JSON, so a document expanding to more nodes than that could never be signed anyway.
MAX_EXPANDED_NODES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column, as editors show them."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Source:
    """A parsed YAML document: its value, its node tree and the text it came from."""

    text: str
    value: Any
    root: Node | None

    def node(self, loc: Sequence[str | int]) -> tuple[Node | None, Node | None]:
        """(key node, value node) at `loc`; parts that match nothing are skipped (pydantic
        puts union tags such as `set` in its locations), so the nearest node is returned."""
        key: Node | None = None
        node = self.root
        for part in loc:
            child = _child(node, part)
            if child is not None:
                key, node = child
        return key, node

    def position(self, loc: Sequence[str | int], *, at_key: bool = False) -> Position:
        """Where `loc` is: its value node, or with `at_key` its key (a misspelt key)."""
        key, value = self.node(loc)
        node = key if at_key and key is not None else value
        return start_of(node)

    def offset_position(self, loc: Sequence[str | int], offset: int) -> Position:
        """Where character `offset` of the scalar at `loc` is, when its text is written on
        one line without escapes (else the scalar's own start)."""
        _, node = self.node(loc)
        if not isinstance(node, ScalarNode):
            return start_of(node)
        raw = self.text[node.start_mark.index : node.end_mark.index]
        quote = 1 if node.style in ("'", '"') else 0
        inner = raw[quote : len(raw) - quote] if quote else raw
        if inner != node.value or "\n" in raw:
            return start_of(node)
        return Position(node.start_mark.line + 1, node.start_mark.column + 1 + quote + offset)


def located_errors(exc: ValidationError) -> list[ErrorDetails]:
    """pydantic's errors minus the `too_short` it adds for a list whose items failed (the
    item's own error says what is wrong; "at least 1 item" would only mislead)."""
    errors = exc.errors(include_url=False)
    failed_inside = [e["loc"] for e in errors if e["type"] != "too_short"]
    return [
        e
        for e in errors
        if e["type"] != "too_short"
        or not any(loc[: len(e["loc"])] == e["loc"] and loc != e["loc"] for loc in failed_inside)
    ]


def start_of(node: Node | None) -> Position:
    if node is None:
        return Position(1, 1)
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _child(node: Node | None, part: str | int) -> tuple[Node, Node] | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and _same_key(key, part):
                return key, value
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item
    return None


def _same_key(key: ScalarNode, part: str | int) -> bool:
    # `on` unquoted is YAML 1.1's boolean true; the model renames it back to "on".
    return key.value == str(part) or (part == "on" and key.value in ("on", "On", "ON"))


def parse_source(text: str) -> Source:
    """Compose and construct `text` (one YAML document); InvalidPolicy names the line."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        raise InvalidPolicy(f"the file is larger than {MAX_SOURCE_BYTES} bytes; split it")
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None and expanded_size(root) > MAX_EXPANDED_NODES:
            raise InvalidPolicy(
                f"the document's aliases expand to more than {MAX_EXPANDED_NODES} values; "
                "write it out without anchors"
            )
        value = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (1, 1) if mark is None else (mark.line + 1, mark.column + 1)
        problem = f"{exc.problem or exc}" + (f" ({exc.context})" if exc.context else "")
        raise InvalidPolicy(
            f"not valid YAML (line {line} column {column}): {problem}",
            details=[{"loc": "", "msg": problem, "line": str(line), "column": str(column)}],
        ) from exc
    except yaml.YAMLError as exc:
        raise InvalidPolicy(f"not valid YAML: {exc}") from exc
    except RecursionError as exc:  # the composer recurses once per nesting level
        raise TooDeep("the document nests thousands of levels deep; flatten it") from exc
    finally:
        loader.dispose()
    return Source(text=text, value=value, root=root)


def expanded_size(root: Node) -> int:
    """How many nodes `root` stands for once every alias is expanded (memoised per node,
    so computing it costs the composed node count)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 0) for c in children)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def duplicate_keys(source: Source) -> Iterator[tuple[str, Position, Position]]:
    """(key, first, repeated) for each mapping key written twice: YAML keeps the last one
    silently, so a second `commands:` would drop the first without a word."""
    seen: set[int] = set()
    stack = [source.root] if source.root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    if key.value in first:
                        yield key.value, start_of(first[key.value]), start_of(key)
                    else:
                        first[key.value] = key
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
