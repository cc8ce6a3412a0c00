"""The settings messaging works with when nobody passes them (the catalog signal listeners).

`create_app`, `build_scheduler` and `run_scheduler_forever` call `configure(settings)`; a
process that did none of these (a one-off script) falls back to the environment.
"""

from __future__ import annotations

from youth_hub.settings import Settings

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    global _settings
    _settings = settings


def current_settings() -> Settings:
    return _settings if _settings is not None else Settings.from_env()
