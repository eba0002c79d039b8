"""The console's routes: the dev sign-in exists only under `resident dev`, never by default."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app import cli
from app.main import create_app
from app.settings import Settings


def client(settings: Settings, *, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    """The app without its lifespan (enough for routes that need no sidecar), called from `peer`."""
    transport = httpx.ASGITransport(create_app(settings), client=(peer, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")


async def test_production_settings_have_no_dev_sign_in_route() -> None:
    async with client(Settings(dev_token=None)) as production:
        assert (await production.get("/console")).status_code == 200
        assert (await production.get("/console/config.json")).json() == {"dev_signin": False}
        assert (await production.post("/console/dev-token")).status_code == 404


async def test_the_dev_sign_in_answers_a_browser_on_loopback_only() -> None:
    settings = Settings(dev_token="the-dev-token")
    async with client(settings) as local:
        assert (await local.get("/console/config.json")).json() == {"dev_signin": True}
        assert (await local.post("/console/dev-token")).json() == {"token": "the-dev-token"}
        # A page whose DNS name was rebound to 127.0.0.1 still sends its own name as Host.
        rebound = await local.post("/console/dev-token", headers={"host": "evil.example"})
        assert (rebound.status_code, rebound.json()["code"]) == (403, "forbidden")
    async with client(settings, peer="192.0.2.7") as remote:
        refused = await remote.post("/console/dev-token")
        assert refused.status_code == 403
        assert "the-dev-token" not in refused.text


def test_dev_token_never_shows_in_the_settings_repr() -> None:
    assert "secret-dev-token" not in repr(Settings(dev_token="secret-dev-token"))


@pytest.mark.parametrize(("command", "kept"), [("serve", False), ("dev", True)])
def test_only_resident_dev_hands_the_app_a_dev_token(
    command: str, kept: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    seen: list[str | None] = []
    monkeypatch.setenv("RESIDENT_HOME", str(tmp_path))
    monkeypatch.setenv("RESIDENT_TRUST", str(tmp_path / "trust.jwks.json"))
    monkeypatch.setenv("RESIDENT_DEV_TOKEN", "left-over-from-a-dev-shell")
    monkeypatch.setattr(
        cli, "serve", lambda options: seen.append(cli.os.environ.get("RESIDENT_DEV_TOKEN")) or 0
    )
    assert cli.main([command]) == 0
    (token,) = seen
    if kept:
        assert token is not None
        assert token.count(".") == 2  # the JWT `resident dev` just minted
    else:
        assert token is None
