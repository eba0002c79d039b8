"""`/readyz`: ready to serve means this app's sidecar answers.

The SDK's `/healthz` (liveness) only says the process runs. An app whose sidecar is gone (an
embedded localdapr that died, daprd restarting) answers every object call with 503, so
readiness asks the sidecar's own outbound health, which both daprd and localdapr serve.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from actors import SidecarClient, SidecarError

from ..errors import ApiError

router = APIRouter(tags=["operations"])


@router.get("/readyz", summary="Ready when this app's Dapr sidecar answers")
async def readyz(request: Request) -> dict[str, str]:
    sidecar: SidecarClient = request.app.state.sidecar
    try:
        await sidecar.request("GET", "/healthz/outbound")
    except SidecarError as exc:
        raise ApiError("unavailable", f"the Dapr sidecar does not answer: {exc}") from exc
    return {"status": "ready"}
