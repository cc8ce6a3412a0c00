"""Settings come from the environment, in one place, with clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from youth_hub.settings import RateLimit, Settings, SettingsError, parse_rate_limits


def test_defaults_need_no_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({"YOUTH_HUB_DATA_DIR": str(tmp_path / "d")})
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'youth_hub.sqlite3'}"
    assert settings.timezone == "Asia/Jakarta"
    assert settings.scheduler_tick == 30
    assert settings.reminder_offsets == (1440, 120)
    assert settings.rate_limits == {
        "register": RateLimit(20, "minute"),
        "login": RateLimit(10, "minute"),
    }
    assert settings.smtp_url is None and settings.redis_url is None
    assert not settings.secure_cookies


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    env = {"YOUTH_HUB_DATA_DIR": str(tmp_path)}
    first = Settings.from_env(env).secret_key
    assert len(first) >= 32
    assert Settings.from_env(env).secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_explicit_values_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "YOUTH_HUB_DATA_DIR": str(tmp_path),
            "YOUTH_HUB_DATABASE_URL": "postgresql://u:p@db:5432/yh",
            "YOUTH_HUB_SECRET_KEY": "s3cret",
            "YOUTH_HUB_BASE_URL": "https://youthhub.example/",
            "YOUTH_HUB_SCHEDULER_TICK": "1",
            "YOUTH_HUB_RATE_LIMITS": "off",
            "YOUTH_HUB_REMINDER_OFFSETS": "60,2880",
        }
    )
    assert settings.secret_key == "s3cret"
    assert settings.base_url == "https://youthhub.example"
    assert settings.secure_cookies
    assert settings.scheduler_tick == 1
    assert settings.rate_limits is None
    assert settings.reminder_offsets == (2880, 60)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("YOUTH_HUB_DATABASE_URL", "mysql://x"),
        ("YOUTH_HUB_TIMEZONE", "Mars/Olympus"),
        ("YOUTH_HUB_SCHEDULER_TICK", "soon"),
        ("YOUTH_HUB_SCHEDULER_TICK", "0"),
        ("YOUTH_HUB_RATE_LIMITS", "register=many"),
        ("YOUTH_HUB_REMINDER_OFFSETS", "a,b"),
        ("YOUTH_HUB_REMINDER_OFFSETS", "-5"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"YOUTH_HUB_DATA_DIR": str(tmp_path), name: value})


def test_rate_limit_parsing() -> None:
    assert parse_rate_limits("register=5/second, login=3/hour") == {
        "register": RateLimit(5, "second"),
        "login": RateLimit(3, "hour"),
    }


def test_cli_error_is_one_sentence_on_stderr(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "youth_hub.cli", "migrate"],
        env={
            "YOUTH_HUB_DATA_DIR": str(tmp_path),
            "YOUTH_HUB_TIMEZONE": "Mars/Olympus",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("youth-hub: YOUTH_HUB_TIMEZONE")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
