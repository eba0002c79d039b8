"""The README's way for another Python Dapr app to call an object: ActorProxy + the interface."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dapr.actor import ActorId, ActorProxy, ActorProxyFactory

from actors import PlainJSONSerializer, ResidentObjectInterface
from tests.contract.pair import sdk_settings
from tests.e2e.hosts import Issuer, ResidentHost, example


@pytest.fixture
def sdk_at_host(host: ResidentHost) -> Iterator[None]:
    from dapr.conf import settings

    saved = (settings.DAPR_HTTP_PORT, settings.DAPR_RUNTIME_HOST, settings.DAPR_API_TOKEN)
    sdk_settings(host)
    yield
    settings.DAPR_HTTP_PORT, settings.DAPR_RUNTIME_HOST, settings.DAPR_API_TOKEN = saved


async def test_another_app_commands_an_object_through_actorproxy(
    host: ResidentHost, issuer: Issuer, sdk_at_host: None
) -> None:
    ops, sensor = issuer.token("ops", "ops", "viewer"), issuer.token("s", "sensor")
    assert host.put_policy("thermostat-proxy", issuer.sign(example("thermostat")), ops).is_success

    factory = ActorProxyFactory(message_serializer=PlainJSONSerializer())
    proxy = ActorProxy.create(
        "ResidentObject", ActorId("thermostat-proxy"), ResidentObjectInterface, factory
    )
    result = await proxy.Command({"name": "report", "params": {"temperature": 35}, "token": sensor})
    refused = await proxy.Command({"name": "report", "params": {"temperature": 1}, "token": ops})

    assert result["applied"] is True, result
    assert result["result"] == "alarm"  # on_change: the overheat rule ran in the same turn
    assert refused["error"]["code"] == "forbidden"
    snapshot = await proxy.Snapshot({"token": ops})
    assert snapshot["data"]["status"] == "alarm"
