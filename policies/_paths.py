"""Dotted data paths (`a.b.c`) with copy-on-write updates.

Rules run on a working copy; copying the whole data per rule would dominate the cycle time, so
a set or unset copies only the dicts along its path and shares every other subtree. The old
root is left intact, which is also what makes undoing a denied rule free.
"""

from __future__ import annotations

from typing import Any

Path = tuple[str, ...]


class PathConflict(ValueError):
    """A path runs through a value that is not an object; recorded as a rule error."""


def split(path: str) -> Path:
    return tuple(path.split("."))


def covers(pattern: str, path: str) -> bool:
    """Whether write capability `pattern` allows writing `path`: `*`, equal, or an ancestor."""
    return pattern == "*" or path == pattern or path.startswith(pattern + ".")


def set_path(root: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A new root with `value` at `path`, creating missing objects along the way."""
    new_root = dict(root)
    node = new_root
    for depth, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise PathConflict(
                f"cannot set {'.'.join(path)}: {'.'.join(path[: depth + 1])} is not an object"
            )
        else:
            child = dict(child)
        node[key] = child
        node = child
    node[path[-1]] = value
    return new_root


def unset_path(root: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """A new root without `path`, or None when there is nothing to remove."""
    chain = [root]
    for key in path[:-1]:
        child = chain[-1].get(key)
        if not isinstance(child, dict):
            return None
        chain.append(child)
    if path[-1] not in chain[-1]:
        return None
    node = dict(chain[-1])
    del node[path[-1]]
    for parent, key in zip(reversed(chain[:-1]), reversed(path[:-1]), strict=True):
        copy = dict(parent)
        copy[key] = node
        node = copy
    return node


def get_path(root: dict[str, Any], path: Path) -> tuple[bool, Any]:
    """(found, value) at `path`."""
    node: Any = root
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node
