"""`python -m localdapr`: run one sidecar, with the flags of `dapr run` / daprd of the same names.

    python -m localdapr --app-id resident --app-port 8000 --dapr-http-port 3500 \\
        [--dapr-grpc-port 50001] --resources-path components --db .resident/localdapr.db \\
        [--broker-db shared.db]

DAPR_API_TOKEN and APP_API_TOKEN are read from the environment, as daprd reads them.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from ._config import SidecarConfig
from ._server import build_app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m localdapr", description=__doc__.splitlines()[0])
    p.add_argument("--app-id", required=True)
    p.add_argument("--app-port", type=int, required=True)
    p.add_argument("--app-host", default="127.0.0.1", help="where the app listens")
    p.add_argument("--dapr-http-port", type=int, default=3500)
    p.add_argument(
        "--dapr-grpc-port",
        type=int,
        default=None,
        help="serve the Dapr gRPC API (actor calls from the Java and Go SDKs) here; default off",
    )
    p.add_argument("--listen-host", default="127.0.0.1", help="interface localdapr binds")
    p.add_argument("--resources-path", type=Path, default=None)
    p.add_argument("--db", type=Path, default=Path(".resident/localdapr.db"))
    p.add_argument(
        "--broker-db",
        type=Path,
        default=None,
        help="SQLite file of pub/sub messages (default: --db); sidecars sharing it share a broker",
    )
    p.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error", "critical"]
    )
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> SidecarConfig:
    return SidecarConfig(
        app_id=args.app_id,
        app_port=args.app_port,
        dapr_http_port=args.dapr_http_port,
        dapr_grpc_port=args.dapr_grpc_port,
        app_host=args.app_host,
        listen_host=args.listen_host,
        resources_path=args.resources_path,
        db_path=args.db,
        broker_db_path=args.broker_db,
        api_token=os.environ.get("DAPR_API_TOKEN") or None,
        app_api_token=os.environ.get("APP_API_TOKEN") or None,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config_from(args)
    uvicorn.run(
        build_app(config),
        host=config.listen_host,
        port=config.dapr_http_port,
        log_level=args.log_level,
        # "auto" picks uvloop and httptools when installed: several times faster on this path.
        loop="auto",
        http="auto",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
