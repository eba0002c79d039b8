"""The Dapr gRPC API's actor calls (what the Java and Go SDKs send), on both sidecars alike.

Driven by the generated stub that ships with the Dapr Python SDK, so each request is exactly
the protobuf message an SDK sends to daprd.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import grpc
import pytest
from dapr.proto.runtime.v1 import actors_pb2, dapr_pb2_grpc, metadata_pb2

from tests.contract.conftest import PairFactory
from tests.contract.pair import SidecarPair


def stub_for(pair: SidecarPair) -> Iterator[dapr_pb2_grpc.DaprStub]:
    with grpc.insecure_channel(f"127.0.0.1:{pair.grpc_port}") as channel:
        yield dapr_pb2_grpc.DaprStub(channel)


@pytest.fixture
def dapr(actor_pair: SidecarPair) -> Iterator[dapr_pb2_grpc.DaprStub]:
    yield from stub_for(actor_pair)


def invoke(stub: dapr_pb2_grpc.DaprStub, actor_id: str, method: str, data: bytes = b"") -> bytes:
    request = actors_pb2.InvokeActorRequest(
        actor_type="Counter", actor_id=actor_id, method=method, data=data
    )
    response = stub.InvokeActor(request, timeout=30)
    return bytes(response.data)


def test_invoke_actor_runs_the_method_and_answers_its_json(
    dapr: dapr_pb2_grpc.DaprStub,
) -> None:
    actor_id = f"grpc-{uuid.uuid4().hex[:8]}"

    first = invoke(dapr, actor_id, "Increment")
    second = invoke(dapr, actor_id, "Increment")
    invoke(dapr, actor_id, "SetValue", json.dumps({"deep": [1, "two"]}).encode())

    assert (json.loads(first), json.loads(second)) == (1, 2)
    assert json.loads(invoke(dapr, actor_id, "GetValue")) == {"deep": [1, "two"]}


def test_a_failing_method_is_internal_with_the_apps_message(
    dapr: dapr_pb2_grpc.DaprStub,
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        invoke(dapr, "grpc-fail", "Fail")

    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "error invoke actor method" in str(failed.value.details())
    assert "deliberate failure" in str(failed.value.details())


def test_metadata_lists_the_hosted_actor_type(dapr: dapr_pb2_grpc.DaprStub) -> None:
    invoke(dapr, "grpc-meta", "Noop")

    metadata = dapr.GetMetadata(metadata_pb2.GetMetadataRequest(), timeout=10)

    assert metadata.id == "contract"
    assert "Counter" in {a.type for a in metadata.actor_runtime.active_actors}


def test_the_api_token_is_required_on_grpc_too(make_pair: PairFactory) -> None:
    pair = make_pair(sidecar_env={"DAPR_API_TOKEN": "s3cret"})
    request = actors_pb2.InvokeActorRequest(actor_type="Counter", actor_id="t", method="Get")
    for stub in stub_for(pair):
        for metadata in ((), (("dapr-api-token", "wrong"),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.InvokeActor(request, metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

        answer = stub.InvokeActor(request, metadata=(("dapr-api-token", "s3cret"),), timeout=30)
        assert json.loads(answer.data) == 0


@pytest.mark.parametrize(
    ("actor_id", "method"),
    [("a/b", "Get"), ("..", "Get"), ("ok", "Get?x=1"), ("ok", "Get#frag"), ("ok", "G\x01et")],
)
def test_malformed_names_are_invalid_arguments(
    dapr: dapr_pb2_grpc.DaprStub, actor_id: str, method: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        invoke(dapr, actor_id, method)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
