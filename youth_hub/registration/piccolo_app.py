"""Piccolo app of the registration domain."""

import os

from piccolo.conf.apps import AppConfig, table_finder

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="registration",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=table_finder(modules=["youth_hub.registration.tables"], exclude_imported=True),
    migration_dependencies=["youth_hub.catalog.piccolo_app"],
    commands=[],
)
