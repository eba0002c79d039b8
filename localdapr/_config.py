"""Settings of one localdapr sidecar process, read once from the command line / environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SidecarConfig:
    """Everything a sidecar needs to know about itself and the app it fronts.

    Mirrors the `dapr run` flags of the same names so that switching to real Dapr is a
    change of command, not of app.
    """

    app_id: str
    app_port: int
    dapr_http_port: int = 3500
    # --dapr-grpc-port: the Dapr gRPC API (InvokeActor, for the Java and Go SDKs); None: off.
    dapr_grpc_port: int | None = None
    app_host: str = "127.0.0.1"
    listen_host: str = "127.0.0.1"
    resources_path: Path | None = None
    db_path: Path = Path(".resident/localdapr.db")
    # --broker-db: the pub/sub messages; sidecars sharing this file form one broker, as apps
    # with their own daprd share one Redis. None: the sidecar's own db.
    broker_db_path: Path | None = None
    # DAPR_API_TOKEN: callers of /v1.0/* must present it in `dapr-api-token`.
    api_token: str | None = None
    # APP_API_TOKEN: sent to the app in `dapr-api-token` on every call.
    app_api_token: str | None = None

    @property
    def broker_path(self) -> Path:
        """The SQLite file holding pub/sub messages: --broker-db, else --db."""
        return self.db_path if self.broker_db_path is None else self.broker_db_path
