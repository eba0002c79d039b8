"""A caller over its rate gets 429 with Retry-After, whatever token it sends and on every
route that reaches an object; unverified tokens are refused before they cost anything, and
other callers are unaffected."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.hosts import Issuer, ResidentHost
from tests.e2e.test_token_attacks import POLICY


def test_commands_over_the_callers_rate_are_refused(
    tmp_path: Path, issuer: Issuer, sidecar: str
) -> None:
    env = {"RESIDENT_COMMAND_RATE": "0.5", "RESIDENT_COMMAND_BURST": "3"}
    with ResidentHost(tmp_path / "host", trusted=[issuer], env=env, sidecar=sidecar) as host:
        ops, same_caller = issuer.token("ops"), issuer.token("ops", jti="second-token")
        other = issuer.token("sensor-9")
        for n in range(50):  # garbage and foreign tokens: 401 at the edge, no bucket of their own
            assert host.command("counter-rl", "increment", f"garbage-{n}").status_code == 401
        assert host.put_policy("counter-rl", issuer.sign(POLICY), ops).status_code == 201

        statuses = [host.command("counter-rl", "increment", ops).status_code for _ in range(4)]
        refused = host.command("counter-rl", "increment", same_caller)

        assert statuses == [200, 200, 429, 429]  # the policy install took one of the 3
        assert refused.status_code == 429  # a fresh token of the same caller: same bucket
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert host.call("GET", "/objects/counter-rl", ops).status_code == 429  # reads too
        assert host.command("counter-rl", "increment", other).status_code == 200
        assert host.call("GET", "/objects/counter-rl", other).json()["data"]["count"] == 3
