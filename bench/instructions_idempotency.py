"""Instructions a keyed `Command` turn costs over an unkeyed one, counted, not timed.

CPU time on this machine drifts by tens of percent from minute to minute, so the ratio
`bench_idempotency.py` prints moves by a few percent between runs. Instructions executed do
not drift: this runs the object's turns in-process (`ResidentObject` over the in-memory
sidecar of the actor tests, state encoded as the app encodes it) under valgrind's callgrind,
and takes the instructions of 1,200 turns less those of 200 (what set-up costs cancels),
keyed and unkeyed, each on 8 objects brought to steady state first (262 commands each: a
keyed object's table full at 256 keys). Everything that could vary between runs is fixed: the
signing key, the token, the host's clock, the keys, the hash seed. Runs of one build still
differ: by up to 24 K instructions a turn in the keyed minus unkeyed figure (memory layout and
garbage collections move). No sidecar process nor HTTP is counted: the object's own share.

    .venv/bin/python bench/instructions_idempotency.py      # needs valgrind (Debian: valgrind)
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP, SHORT, LONG, OBJECTS = 2100, 200, 1200, 8


class StoppedClock:
    """The host's clock, stopped: lineage times and the token's validity never change."""

    def __init__(self, seconds: int) -> None:
        self.moment = datetime.fromtimestamp(seconds, UTC)

    def now(self) -> datetime:
        return self.moment


async def turns(keyed: bool, count: int) -> None:
    """Warm up, then `count` more `Command` turns of one kind (what is counted)."""
    sys.path.insert(0, str(ROOT))
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from actors import HostConfig
    from actors._serializer import StateJSONSerializer
    from bench.bench_idempotency import COUNTER, ISSUER
    from policies import TrustStore, sign_policy, sign_token
    from policies._signing import _from_private
    from tests.actors.fakes import InMemorySidecar, object_on

    key = _from_private(
        ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32))), kid=None, issuer=ISSUER
    )
    now = 1_796_270_000  # a fixed token: verifying a signature takes as long as its bits say
    token = sign_token({"iss": ISSUER, "sub": "ops", "iat": now, "exp": now + 3600}, key)
    host = HostConfig(
        trust=TrustStore.from_jwks({"keys": [key.public_jwk]}), clock=StoppedClock(now + 60)
    )
    sidecar = InMemorySidecar()
    actors = [
        object_on(sidecar, host, f"counter-{n}", state_serializer=StateJSONSerializer())
        for n in range(OBJECTS)
    ]
    for actor in actors:
        await actor.install_policy({"policy": sign_policy(COUNTER, key), "token": token})
        await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]
    random.seed(1)
    keys = [f"{random.getrandbits(128):032x}" for _ in range(WARM_UP + count)]

    async def run(start: int, n: int) -> None:
        for i in range(start, start + n):
            actor = actors[i % OBJECTS]
            body = {"name": "add", "params": {"by": 1}, "token": token}
            if keyed:
                body["idempotency_key"] = keys[i]
            result = await actor.command(body)
            if "error" in result:
                raise RuntimeError(str(result))
            await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    await run(0, WARM_UP)
    gc.collect()
    gc.freeze()
    await run(WARM_UP, count)


def counted(kind: str, count: int) -> int:
    """Instructions of one run of this script's `turns` under callgrind."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--turns", kind, str(count)],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    ).stderr  # fmt: skip
    return int(next(line for line in out.splitlines() if "Collected" in line).split()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--turns"]:
        asyncio.run(turns(sys.argv[2] == "keyed", int(sys.argv[3])))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    with ThreadPoolExecutor(2) as pool:
        runs = {
            (kind, n): pool.submit(counted, kind, n)
            for kind in ("unkeyed", "keyed")
            for n in (SHORT, LONG)
        }
        per = {
            kind: (runs[(kind, LONG)].result() - runs[(kind, SHORT)].result()) / (LONG - SHORT)
            for kind in ("unkeyed", "keyed")
        }
    print(
        f"instructions per Command turn, in-process: unkeyed {per['unkeyed'] / 1e6:.3f} M, "
        f"keyed {per['keyed'] / 1e6:.3f} M, x{per['keyed'] / per['unkeyed']:.3f} "
        f"(+{(per['keyed'] - per['unkeyed']) / 1e3:.0f} K; {OBJECTS} objects each way)"
    )


if __name__ == "__main__":
    main()
