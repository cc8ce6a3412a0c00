"""Piccolo's configuration: the database from YOUTH_HUB_DATABASE_URL and every domain app."""

from piccolo.conf.apps import AppRegistry

from youth_hub.db import make_engine
from youth_hub.settings import Settings

DB = make_engine(Settings.from_env().database_url)

# Order follows the dependencies: accounts <- catalog <- registration <- tickets <- checkin.
APP_REGISTRY = AppRegistry(
    apps=[
        "youth_hub.accounts.piccolo_app",
        "youth_hub.catalog.piccolo_app",
        "youth_hub.registration.piccolo_app",
        "youth_hub.tickets.piccolo_app",
        "youth_hub.checkin.piccolo_app",
        "youth_hub.messaging.piccolo_app",
    ]
)
