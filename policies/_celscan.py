"""What a CEL expression reads, found by scanning its tokens (for `resident lint`).

The `cel` package compiles and runs expressions but exposes no syntax tree, only the names
of the variables used. Lint needs more: which `params.x` and `data.a.b` fields are selected,
where in the source, and the top-level `&&` conditions of a `when`. A token scan answers that
for the forms authors write (`data.a.b`, `has(data.a)`, `params.x`); string literals are
skipped and a name rebound by a comprehension (`list.all(data, ...)`) is left alone, so the
scan can miss a read but never invents one. It is linear in the source length, which the
host's expression limit already bounds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"(?P<str>[rRbB]{0,2}(?:'''|\"\"\"|'|\"))"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<num>[0-9][0-9A-Za-z_.]*)"
    r"|(?P<space>\s+)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|.)",
    re.DOTALL,
)
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "str", "ident", "num" or "op"
    text: str
    start: int


@dataclass(frozen=True, slots=True)
class Selection:
    """`root.a.b` in the source: the selected chain and where `root` starts."""

    chain: tuple[str, ...]
    start: int
    guarded: bool  # inside `has(...)`: a test for presence, not a read


def tokens(source: str) -> list[Token]:
    """The significant tokens of `source`; a string literal is one token."""
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:  # pragma: no cover - the last alternative matches any character
            break
        kind = match.lastgroup or "op"
        start, pos = pos, match.end()
        if kind == "space":
            continue
        if kind == "str":
            text = match.group()
            pos = _string_end(source, pos, text.lstrip("rRbB"), raw="r" in text.lower())
        out.append(Token(kind, source[start:pos], start))
    return out


def _string_end(source: str, pos: int, quote: str, *, raw: bool) -> int:
    while pos < len(source):
        if not raw and source[pos] == "\\":
            pos += 2
            continue
        if source.startswith(quote, pos):
            return pos + len(quote)
        pos += 1
    return len(source)


def bound_names(toks: list[Token]) -> frozenset[str]:
    """Names a comprehension binds: the `x` of `list.all(x, ...)`."""
    names = set()
    for i in range(len(toks) - 4):
        a, macro, paren, name, comma = toks[i : i + 5]
        if (
            a.text == "."
            and macro.text in _MACROS
            and paren.text == "("
            and name.kind == "ident"
            and comma.text == ","
        ):
            names.add(name.text)
    return frozenset(names)


def selections(source: str, root: str) -> list[Selection] | None:
    """Every `root.field...` chain in `source`; None when `root` is used otherwise (whole,
    indexed with `[...]`, or rebound), where no field-level answer is safe."""
    toks = tokens(source)
    if root in bound_names(toks):
        return None
    found: list[Selection] = []
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text != root or (i and toks[i - 1].text == "."):
            continue
        chain: list[str] = []
        j = i + 1
        while j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind == "ident":
            if j + 2 < len(toks) and toks[j + 2].text == "(":
                break  # a method call such as `data.items.size()`
            chain.append(toks[j + 1].text)
            j += 2
        if not chain:
            return None
        guarded = i >= 2 and toks[i - 1].text == "(" and toks[i - 2].text == "has"
        found.append(Selection(tuple(chain), tok.start, guarded))
    return found


def conditions(source: str) -> frozenset[str]:
    """The top-level `&&` operands of `source`, each normalised to its token texts, so
    `a == 1 && b` and `b&&a==1` have the same conditions."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens(source):
        if tok.text in ("(", "[", "{"):
            depth += 1
        elif tok.text in (")", "]", "}"):
            depth -= 1
        if tok.text == "&&" and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok.text)
    return frozenset(" ".join(_unwrap(p)) for p in parts if p)


def _unwrap(part: list[str]) -> list[str]:
    while len(part) >= 2 and part[0] == "(" and part[-1] == ")" and _balanced(part[1:-1]):
        part = part[1:-1]
    return part


def _balanced(part: list[str]) -> bool:
    depth = 0
    for text in part:
        depth += text in ("(", "[", "{")
        depth -= text in (")", "]", "}")
        if depth < 0:
            return False
    return depth == 0
