"""The `bindings.localstorage` output binding: files under the component's `rootPath`.

Operations and answers follow components-contrib's binding (create/get/delete/list with
`metadata.fileName`; create un-quotes, then base64-decodes the data when it can). A `fileName`
is resolved as components-contrib does with securejoin: as if `rootPath` were `/`, so `..`
and absolute paths are clamped inside the root (`/etc/passwd` is `<root>/etc/passwd`); a
symlink that would still lead out is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import posixpath
import uuid
from pathlib import Path

from ._bindingtypes import BindingError, BindingResult
from ._components import Component, ResourceError

OPERATIONS: tuple[str, ...] = ("create", "get", "delete", "list")


class LocalStorageBinding:
    operations = OPERATIONS

    def __init__(self, component: Component) -> None:
        root = component.metadata.get("rootPath", "")
        if not root:
            raise ResourceError(f"binding {component.name!r}: metadata rootPath is required")
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    async def invoke(self, operation: str, data: bytes, metadata: dict[str, str]) -> BindingResult:
        name = metadata.get("fileName", "")
        if operation == "create":
            return self._create(name or str(uuid.uuid4()), data)
        if operation == "list":
            return self._list(name)
        if not name:
            raise BindingError(f"metadata fileName is required for {operation}")
        path = self._inside(name)
        if operation == "get":
            if not path.is_file():
                raise BindingError(f"file not found: {path}")
            return BindingResult(path.read_bytes())
        try:
            path.unlink()
        except OSError as exc:
            raise BindingError(f"error deleting file {path}: {exc}") from exc
        return BindingResult(None)

    def _create(self, name: str, data: bytes) -> BindingResult:
        path = self._inside(name)
        payload = _unquote(data)
        with contextlib.suppress(binascii.Error, ValueError):
            payload = base64.b64decode(payload, validate=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
        except OSError as exc:
            raise BindingError(f"error writing file {path}: {exc}") from exc
        rel = str(path.relative_to(self._root))
        return BindingResult(json.dumps({"fileName": rel}).encode())

    def _list(self, name: str) -> BindingResult:
        path = self._inside(name) if name else self._root
        if not path.is_dir():
            raise BindingError(
                f"unable to list files as the file specified is not a directory: {path}"
            )
        files = sorted(str(p) for p in path.rglob("*") if p.is_file())
        return BindingResult(json.dumps(files).encode())

    def _inside(self, name: str) -> Path:
        """The file `name` under the root, clamped like securejoin; a refusal if a symlink
        would still lead out."""
        clamped = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
        path = (self._root / clamped).resolve()
        if path != self._root and self._root not in path.parents:
            raise BindingError(f"fileName {name!r} is outside rootPath")
        return path


def _unquote(data: bytes) -> bytes:
    """A JSON string literal becomes its text (Go's strconv.Unquote, for practical inputs)."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data
    return value.encode() if isinstance(value, str) else data
