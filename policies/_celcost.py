"""A bound on what one CEL evaluation may cost, checked before the engine runs it.

The Rust CEL engine has no cost limit and cannot be interrupted, and it runs on the event
loop: 16 nested `map`s in 249 characters took 2.2 s, an `all` inside an `exists` over a
2,000-element param took 1 s, stalling every object of the host. So:

- at load, comprehension nesting deeper than the host allows is refused (`InputLimits`);
- at run time, the work an expression may do is bounded from above, from its shape and from
  the sizes of the values it is handed, and an expression over the budget is not run.

The bound is conservative, not exact: with `n` the largest list or map reachable from the
inputs or written in the source, a comprehension costs `n` steps for `all`/`exists`/
`exists_one` and `n**2` for `map`/`filter` (the engine copies its accumulator on every step:
measured quadratic), nested ones multiply, and a body that may concatenate (`+`) is charged
the longest input string on each step (`p.map(x, s + s)` copies `s` every time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

MAX_CEL_COST = 1_000_000  # ~50-200 ms of the engine's slowest steps
_COMPREHENSIONS = {"all": 1, "exists": 1, "exists_one": 1, "map": 2, "filter": 2}
_TOKEN = re.compile(
    r"""(?P<str>[rRbB]{0,2}(?:'''|\"\"\"|'|"))"""
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<num>[0-9][0-9A-Za-z_.]*)"
    r"|(?P<space>\s+)"
    r"|(?P<op>.)",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Shape:
    """What bounds an expression's cost. `exponent` is the largest sum of step exponents
    along one nesting chain; `literal` the largest list or map written in the source."""

    depth: int = 0
    exponent: int = 0
    count: int = 0
    literal: int = 0
    concat: bool = False

    def cost(self, variables: Iterable[Any]) -> int:
        """The most steps evaluating over `variables` may take (0: no comprehension)."""
        if self.count == 0:
            return 0
        items, chars = _largest(variables)
        steps: int = self.count * max(self.literal, items, 1) ** self.exponent
        return steps * max(chars, 1) if self.concat else steps


@dataclass(slots=True)
class _Frame:
    closer: str
    weight: int  # a comprehension's step exponent; 0 for brackets and plain calls
    items: int = 0
    empty: bool = True


def shape(source: str) -> Shape:
    """The comprehension shape of `source`. Tolerates text that does not compile (it is
    measured before compilation, and compilation then refuses it)."""
    scan = _Scan()
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:  # pragma: no cover - the last alternative matches any character
            break
        kind, text = match.lastgroup, match.group()
        pos = match.end()
        if kind == "space":
            continue
        if kind == "str":
            pos = _skip_string(source, pos, text.lstrip("rRbB"), raw="r" in text.lower())
        scan.token(text)
    return scan.shape


class _Scan:
    """Brackets and comprehensions seen so far, token by token."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.shape = Shape()
        self.previous: list[str] = []  # the last two significant tokens

    def token(self, text: str) -> None:
        stack = self.stack
        if stack and stack[-1].empty and text not in (")", "]", "}"):
            stack[-1].empty = False
        if text in ("(", "[", "{"):
            self._open(text)
        elif text in (")", "]", "}"):
            if stack and stack[-1].closer == text:
                frame = stack.pop()
                if text != ")":
                    size = frame.items + (0 if frame.empty else 1)
                    self.shape = replace(self.shape, literal=max(self.shape.literal, size))
        elif text == "," and stack:
            stack[-1].items += 1
        elif text == "+" and any(f.weight for f in stack):
            self.shape = replace(self.shape, concat=True)
        self.previous = [*self.previous[-1:], text]

    def _open(self, text: str) -> None:
        previous = self.previous
        weight = _COMPREHENSIONS.get(previous[-1], 0) if text == "(" and previous else 0
        if len(previous) < 2 or previous[0] != ".":
            weight = 0  # a macro is a method call: `list.all(...)`
        self.stack.append(_Frame({"(": ")", "[": "]", "{": "}"}[text], weight))
        if weight:
            chain = [f.weight for f in self.stack if f.weight]
            self.shape = replace(
                self.shape,
                count=self.shape.count + 1,
                depth=max(self.shape.depth, len(chain)),
                exponent=max(self.shape.exponent, sum(chain)),
            )


def _skip_string(source: str, pos: int, quote: str, *, raw: bool) -> int:
    """The position just after the string literal opened by `quote` (end of text if open)."""
    while pos < len(source):
        if not raw and source[pos] == "\\":
            pos += 2
            continue
        if source.startswith(quote, pos):
            return pos + len(quote)
        pos += 1
    return pos


def _largest(values: Iterable[Any]) -> tuple[int, int]:
    """The largest list or map, and the longest string, in `values` (without recursion)."""
    items = chars = 0
    stack = list(values)
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            chars = max(chars, len(item))
        elif isinstance(item, Mapping):
            items = max(items, len(item))
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, list | tuple):
            items = max(items, len(item))
            stack.extend(item)
    return items, chars
