"""`resident command` sends one fresh idempotency key per invocation and reuses it on retries."""

from __future__ import annotations

import httpx
import pytest

from app.httpclient import CliError, HostClient


class FlakyHost:
    """Answers 503 (or drops the connection) `failures` times, then 200; records each call."""

    def __init__(self, failures: int, *, drop: bool = False) -> None:
        self.failures, self.drop = failures, drop
        self.keys: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get("idempotency-key"))
        if len(self.keys) <= self.failures:
            if self.drop:
                raise httpx.ReadError("connection reset", request=request)
            return httpx.Response(503, json={"code": "unavailable", "detail": "moving"})
        return httpx.Response(
            200, json={"seq": 3, "applied": True}, headers={"idempotency-replayed": "true"}
        )


def client(host: FlakyHost) -> HostClient:
    return HostClient("http://host", token="t", transport=httpx.MockTransport(host))


@pytest.mark.parametrize("drop", [False, True])
def test_retries_reuse_the_invocations_key(drop: bool) -> None:
    host = FlakyHost(2, drop=drop)
    cli = client(host)
    assert cli.command("o-1", "pay", {"amount": 1}, backoff=0) == {"seq": 3, "applied": True}
    assert len(host.keys) == 3
    assert len(set(host.keys)) == 1
    assert host.keys[0] is not None
    assert cli.replayed is True


def test_each_invocation_has_a_fresh_key_unless_one_is_given() -> None:
    host = FlakyHost(0)
    cli = client(host)
    cli.command("o-1", "pay", {}, backoff=0)
    cli.command("o-1", "pay", {}, backoff=0)
    cli.command("o-1", "pay", {}, idempotency_key="order-42", backoff=0)
    assert host.keys[0] != host.keys[1]
    assert host.keys[2] == "order-42"


def test_after_the_last_retry_the_error_names_the_key() -> None:
    host = FlakyHost(10, drop=True)
    with pytest.raises(CliError, match=r"idempotency key [0-9a-f]{32}"):
        client(host).command("o-1", "pay", {}, retries=2, backoff=0)
    assert len(host.keys) == 3


def test_a_refusal_is_not_retried() -> None:
    calls: list[str | None] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("idempotency-key"))
        return httpx.Response(422, json={"code": "idempotency_key_reused", "detail": "used"})

    cli = HostClient("http://host", token="t", transport=httpx.MockTransport(refuse))
    with pytest.raises(CliError, match="422 idempotency_key_reused"):
        cli.command("o-1", "pay", {}, backoff=0)
    assert len(calls) == 1
