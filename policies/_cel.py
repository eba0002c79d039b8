"""Compiled CEL expressions and the cheap contexts they run in.

Converting Python values to CEL costs about a microsecond per scalar, so handing a 4 KiB
`data` object to every expression would cost most of a millisecond per rule. Each expression
therefore records which top-level variables it references and, when `data` is only ever used
as `data.<field>...`, which fields; at run time we pass just those. This is a conservative
scan of the source (any other use of the name `data` falls back to the whole object), not an
evaluator: evaluation is always the Rust CEL engine's.

Before it runs, an expression's cost is bounded from its comprehension shape and the sizes of
its inputs (`_celcost`); over the budget it fails like any runtime error, without running.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from ._celcost import MAX_CEL_COST, Shape, shape
from ._errors import InvalidPolicy

VARIABLES = frozenset({"data", "params", "caller", "object", "now", "event"})
_DATA_WORD = re.compile(r"\bdata\b")
# A field selection, not a method call: the identifier must be whole and not followed by "(".
_SELECT = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")
_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
# Contexts are keyed by caller input (params, claims), so the cache is bounded in bytes as
# well as entries: without that, 4 expressions x 16 distinct 1 MiB params held 375 MiB.
CACHE_ENTRIES = 256
CACHE_BYTES = 8 * 1024 * 1024  # estimated size of the cached inputs, per thread
_SHARE = 16  # inputs over 1/16 of the budget run uncached: their conversion dominates anyway

# A projection tree: field -> subtree, or None for "the whole value".
Tree = dict[str, "Tree | None"]


class CelRuntimeError(Exception):
    """An expression failed while running (missing field, wrong type, overflow...)."""


class CelCostError(CelRuntimeError):
    """An expression could cost more than `MAX_CEL_COST` over these inputs; it was not run."""


@dataclass(frozen=True, slots=True)
class Expr:
    """One compiled expression with the variables (and data fields) it needs.

    Contexts (which convert their variables once) are cached per thread by the exact input
    values, shared by all expressions: a cycle over unchanged data pays the conversion only
    the first time.
    """

    source: str
    where: str
    program: Any
    needs: frozenset[str]
    data_tree: Tree | None
    shape: Shape = field(default_factory=Shape)

    def run(self, scope: Mapping[str, Any]) -> Any:
        """Evaluate against `scope`, passing only the variables (and data fields) used."""
        variables: dict[str, Any] = {}
        for name in self.needs:
            value = scope[name]
            if name == "data" and self.data_tree is not None:
                value = project(value, self.data_tree)
            variables[name] = value
        self._check_cost(variables)
        try:
            return self.program.execute(context_cache().context(variables))
        except (KeyError, TypeError, ValueError, RuntimeError, ArithmeticError) as exc:
            raise CelRuntimeError(_runtime_message(exc)) from exc

    def _check_cost(self, variables: dict[str, Any]) -> None:
        cost = self.shape.cost(variables.values())
        if cost > MAX_CEL_COST:
            raise CelCostError(
                f"too costly: up to {cost} steps over inputs this large; the host allows "
                f"{MAX_CEL_COST}; iterate over smaller lists or nest fewer comprehensions"
            )


class ContextCache:
    """One thread's `cel.Context`s by input values, least recently used first out, bounded
    by `entries` and by the estimated bytes of the inputs they hold (`bytes`)."""

    def __init__(self, *, entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.limit, self.max_bytes = entries, max_bytes
        self.bytes = 0
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def context(self, variables: dict[str, Any]) -> Any:
        """A cached context for `variables`, or (too large, unhashable) the dict itself."""
        try:
            key = freeze(variables)
        except TypeError:  # an unhashable leaf (e.g. a set): run uncached, CEL will refuse it
            return variables
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit[0]
        size = weight(variables)
        if size > self.max_bytes // _SHARE:
            return variables
        context = cel.Context(variables=variables)
        self._entries[key] = (context, size)
        self.bytes += size
        while len(self._entries) > self.limit or self.bytes > self.max_bytes:
            self.bytes -= self._entries.popitem(last=False)[1][1]
        return context


_local = threading.local()


def context_cache() -> ContextCache:
    """This thread's context cache (contexts are not shared between threads)."""
    cache: ContextCache | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = ContextCache()
    return cache


def weight(value: Any) -> int:
    """Estimated bytes of a JSON-like value as CPython holds it, without recursion."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += 49 + len(item)
        elif isinstance(item, Mapping):
            total += 64 + 32 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += 56 + 8 * len(item)
            stack.extend(item)
        else:
            total += 32
    return total


def freeze(value: Any) -> Any:
    """A hashable image of a JSON-like value that tells 1, 1.0 and True apart.

    Strings and ints stay bare (they cannot be confused with each other or with the tagged
    tuples used for everything else); this is the hot path of every cache lookup.
    """
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind is dict:
        return (
            dict,
            tuple(
                [
                    (k, v if type(v) is str or type(v) is int else freeze(v))
                    for k, v in value.items()
                ]
            ),
        )
    if kind is list:
        return (list, tuple([freeze(v) for v in value]))
    hash(value)
    return (kind, value)


def project(value: Any, tree: Tree) -> Any:
    """The parts of `value` that `tree` selects; non-objects are kept whole, so an
    expression fails on a projection exactly where it fails on the full value."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key in value:
            out[key] = value[key] if sub is None else project(value[key], sub)
    return out


def _runtime_message(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0]!r}" if exc.args else "no such key"
    return str(exc).split("\n", 1)[0] or type(exc).__name__


def compile_expr(source: str, *, where: str) -> Expr:
    """Compile `source`; `where` (e.g. "rule 'overheat' when") locates it in errors."""
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError, TypeError) as exc:
        raise InvalidPolicy(_compile_message(source, where, str(exc))) from exc
    needs = frozenset(program.variables()) & VARIABLES
    return Expr(source, where, program, needs, data_tree(source), shape(source))


def _compile_message(source: str, where: str, text: str) -> str:
    match = _POSITION.search(text)
    if match is None:
        return f"{where}: {source!r}: {text.splitlines()[0] if text else 'does not compile'}"
    line, col, reason = match.groups()
    at = f"col {col}" if line == "1" else f"line {line} col {col}"
    return f"{where}: {source!r} {at}: {reason}; fix the CEL expression"


def data_tree(source: str) -> Tree | None:
    """The `data` fields the source selects, as a tree; None if it may use `data` whole."""
    tree: Tree = {}
    for match in _DATA_WORD.finditer(source):
        chain: list[str] = []
        pos = match.end()
        while (select := _SELECT.match(source, pos)) is not None:
            chain.append(select.group(1))
            pos = select.end()
        if not chain:
            return None
        _insert(tree, chain)
    return tree


def _insert(tree: Tree, chain: list[str]) -> None:
    node = tree
    for key in chain[:-1]:
        child = node.get(key, {})
        if child is None:
            return  # an ancestor is already taken whole
        node[key] = child
        node = child
    node[chain[-1]] = None
