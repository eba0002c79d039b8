"""Host settings: limits narrow, with a safe floor on evaluation periods."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_evaluation_period_floor_defaults_to_one_second() -> None:
    assert Settings(host_limits=None).load_limits().min_period == timedelta(seconds=1)


def test_host_limits_yaml_is_read_and_its_min_period_wins() -> None:
    limits = Settings(host_limits="publish: [alerts]\nmin_period: 10s\n").load_limits()
    assert limits.min_period == timedelta(seconds=10)
    assert limits.publish == ("alerts",)


def test_host_limits_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(SettingsError, match="mapping"):
        Settings(host_limits="- alerts\n- other\n").load_limits()


def test_a_dev_key_is_owner_only_even_over_a_wider_file_or_a_symlink(tmp_path: Path) -> None:
    from app.keystore import KeyStore

    store = KeyStore(tmp_path / "home")
    keys = tmp_path / "home" / "keys"
    keys.mkdir(parents=True)
    (keys / "dev.pem").write_text("old")
    (keys / "dev.pem").chmod(0o644)
    store.create("dev", issuer="dev")
    assert (keys / "dev.pem").stat().st_mode & 0o777 == 0o600

    elsewhere = tmp_path / "victim.txt"
    elsewhere.write_text("not a key")
    (keys / "ops.pem").symlink_to(elsewhere)
    store.create("ops", issuer="ops")
    assert elsewhere.read_text() == "not a key"
    assert not (keys / "ops.pem").is_symlink()
    assert (keys / "ops.pem").stat().st_mode & 0o777 == 0o600


def test_a_host_key_is_generated_only_when_asked(tmp_path: Path) -> None:
    from app.hostkey import MissingHostKey, ensure_host_key

    path = tmp_path / "host-key.pem"
    with pytest.raises(MissingHostKey, match="RESIDENT_HOST_KEY"):
        ensure_host_key(path)  # replicas must share one key: none is made up silently
    assert not path.exists()
    made = ensure_host_key(path, generate=True)
    assert ensure_host_key(path).public_jwk == made.public_jwk  # every replica reads the same


def test_the_idempotency_window_is_a_bounded_duration() -> None:
    assert Settings().idempotency_window_delta() == timedelta(hours=24)
    assert Settings(idempotency_window="90s").idempotency_window_delta() == timedelta(seconds=90)
    with pytest.raises(SettingsError, match="longer than 30 days"):
        Settings(idempotency_window="800h").idempotency_window_delta()
    with pytest.raises(SettingsError, match="RESIDENT_IDEMPOTENCY_WINDOW"):
        Settings(idempotency_window="soon").idempotency_window_delta()
