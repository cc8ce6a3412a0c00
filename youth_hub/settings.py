"""Typed settings: the only place environment variables are read."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"

_RATE = re.compile(r"^\s*([a-z_]+)\s*=\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


@dataclass(frozen=True)
class RateLimit:
    count: int
    unit: str  # "second", "minute", "hour" or "day", as Litestar's RateLimitConfig wants


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str
    base_url: str = "http://127.0.0.1:8000"
    smtp_url: str | None = None
    mail_from: str = "Youth Hub <noreply@localhost>"
    redis_url: str | None = None
    timezone: str = "Asia/Jakarta"
    scheduler_tick: float = 30.0
    # None means rate limits are off (benchmarks); otherwise name -> limit.
    rate_limits: Mapping[str, RateLimit] | None = field(
        default_factory=lambda: {
            "register": RateLimit(20, "minute"),
            "login": RateLimit(10, "minute"),
        }
    )
    reminder_offsets: tuple[int, ...] = (1440, 120)
    # Set by `youth-hub serve --no-scheduler` for its workers (YOUTH_HUB_SCHEDULER=off).
    run_scheduler: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("YOUTH_HUB_DATA_DIR", "data"))
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = env.get(
            "YOUTH_HUB_DATABASE_URL", f"sqlite:///{data_dir / 'youth_hub.sqlite3'}"
        )
        if not database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise SettingsError(
                "YOUTH_HUB_DATABASE_URL must start with sqlite:/// or postgresql://"
            )
        timezone = env.get("YOUTH_HUB_TIMEZONE", "Asia/Jakarta")
        try:
            ZoneInfo(timezone)
        except Exception as exc:
            raise SettingsError(f"YOUTH_HUB_TIMEZONE names no known time zone: {timezone}") from exc
        return cls(
            database_url=database_url,
            data_dir=data_dir,
            secret_key=env.get("YOUTH_HUB_SECRET_KEY") or _generated_secret(data_dir),
            base_url=env.get("YOUTH_HUB_BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
            smtp_url=env.get("YOUTH_HUB_SMTP_URL") or None,
            mail_from=env.get("YOUTH_HUB_MAIL_FROM", "Youth Hub <noreply@localhost>"),
            redis_url=env.get("YOUTH_HUB_REDIS_URL") or None,
            timezone=timezone,
            scheduler_tick=_positive_float(env, "YOUTH_HUB_SCHEDULER_TICK", 30.0),
            rate_limits=parse_rate_limits(
                env.get("YOUTH_HUB_RATE_LIMITS", "register=20/minute,login=10/minute")
            ),
            reminder_offsets=_offsets(env.get("YOUTH_HUB_REMINDER_OFFSETS", "1440,120")),
            run_scheduler=env.get("YOUTH_HUB_SCHEDULER", "on").lower() not in {"off", "0", "no"},
        )


def parse_rate_limits(text: str) -> dict[str, RateLimit] | None:
    if text.strip().lower() == "off":
        return None
    limits: dict[str, RateLimit] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RATE.match(part)
        if not match:
            raise SettingsError(
                f"YOUTH_HUB_RATE_LIMITS: cannot read {part!r}; write name=N/minute, or off"
            )
        name, count, unit = match.groups()
        limits[name] = RateLimit(int(count), unit)
    return limits


def _offsets(text: str) -> tuple[int, ...]:
    try:
        values = tuple(sorted({int(p) for p in text.split(",") if p.strip()}, reverse=True))
    except ValueError as exc:
        raise SettingsError("YOUTH_HUB_REMINDER_OFFSETS must be minutes, e.g. 1440,120") from exc
    if any(v <= 0 for v in values):
        raise SettingsError("YOUTH_HUB_REMINDER_OFFSETS must be positive minutes")
    return values


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number of seconds") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be more than zero")
    return value


def _generated_secret(data_dir: Path) -> str:
    """Create the secret once, atomically, so several workers agree on it."""
    path = data_dir / "secret_key"
    if not path.exists():
        tmp = data_dir / f".secret_key.{os.getpid()}"
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails if another process won the race; theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
