"""Host settings: limits narrow, with a safe floor on evaluation periods."""

from __future__ import annotations

from datetime import timedelta

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
