"""Piccolo app of the messaging domain."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="messaging",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["youth_hub.messaging.tables"], exclude_imported=True),
    migration_dependencies=["youth_hub.catalog.piccolo_app", "youth_hub.registration.piccolo_app"],
    commands=[],
)
