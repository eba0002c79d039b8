"""Small HTTP helpers shared by the non-actor API families."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request

# RFC 9110 hop-by-hop headers, plus what the transport recomputes; never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def query_metadata(request: Request) -> dict[str, str]:
    """daprd's `metadata.<name>=<value>` query parameters, by name."""
    prefix = "metadata."
    return {k[len(prefix) :]: v for k, v in request.query_params.items() if k.startswith(prefix)}


def forwardable(
    headers: Iterable[tuple[str, str]], *, drop: frozenset[str]
) -> list[tuple[str, str]]:
    """Headers minus hop-by-hop ones and `drop` (lower-case names), duplicates kept."""
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in drop]
