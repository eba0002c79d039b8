"""A caller over its command rate gets 429 with Retry-After; others are unaffected."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.hosts import Issuer, ResidentHost
from tests.e2e.test_token_attacks import POLICY


def test_commands_over_the_callers_rate_are_refused(
    tmp_path: Path, issuer: Issuer, sidecar: str
) -> None:
    env = {"RESIDENT_COMMAND_RATE": "0.5", "RESIDENT_COMMAND_BURST": "3"}
    with ResidentHost(tmp_path / "host", trusted=[issuer], env=env, sidecar=sidecar) as host:
        ops, other = issuer.token("ops"), issuer.token("ops", jti="second-token")
        assert host.put_policy("counter-rl", issuer.sign(POLICY), ops).status_code == 201

        statuses = [host.command("counter-rl", "increment", ops).status_code for _ in range(5)]
        refused = host.command("counter-rl", "increment", ops)

        assert statuses == [200, 200, 200, 429, 429]
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert host.command("counter-rl", "increment", other).status_code == 200
        assert host.show("counter-rl", ops)["data"]["count"] == 4
