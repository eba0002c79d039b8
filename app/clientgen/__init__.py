"""Typed client interfaces of `ResidentObject` for other Dapr SDKs, generated from our models.

`python -m app.clientgen` writes them under `clients/`; `python -m app.clientgen --check`
(and tests/test_clients.py) fails when a committed file differs from what the models give.
"""

from ._outputs import CLIENTS, drifted, outputs, write

__all__ = ["CLIENTS", "drifted", "outputs", "write"]
