"""What every output binding implementation shares: its result, its errors, its protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BindingResult:
    """Data (None: no body, daprd answers 204) and metadata (sent back as `metadata.*`)."""

    data: bytes | None
    metadata: dict[str, str] = field(default_factory=dict)


class BindingError(Exception):
    """The binding's target failed (daprd: 500 ERR_INVOKE_OUTPUT_BINDING); a retry may help.

    `metadata` still reaches the caller, as daprd sends the HTTP binding's even on error.
    """

    def __init__(self, message: str, *, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.metadata = metadata or {}


class OutputBinding(Protocol):
    operations: tuple[str, ...]

    async def invoke(self, operation: str, data: bytes, metadata: dict[str, str]) -> BindingResult:
        """Perform `operation`; raise BindingError on failure (daprd: a 500)."""
        ...
