"""The ASGI entry point for uvicorn workers: `youth_hub.asgi:app_factory` (factory=True)."""

from litestar import Litestar

from youth_hub.app import create_app
from youth_hub.settings import Settings


def app_factory() -> Litestar:
    settings = Settings.from_env()
    return create_app(settings, run_scheduler=settings.run_scheduler)
