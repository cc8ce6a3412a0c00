"""Multi-column unique indexes of the check-in tables.

Piccolo cannot add a multi-column UNIQUE constraint on SQLite, and raw SQL in a migration runs
before its tables are created, hence this second migration. The indexes make the rules hold
under concurrency: one assignment per program and user, one check-in per ticket and session,
one answer per scanner's nonce (NULL nonces stay distinct on both databases).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-29T19:48:15:305368"
VERSION = "1.38.0"
DESCRIPTION = "Unique indexes of the check-in tables"

UNIQUE_INDEXES = {
    "checkin_assignment_unique": 'checkin_scanner_assignment (program, "user")',
    "checkin_checkin_unique": "checkin_checkin (registration, session)",
    "checkin_nonce_unique": "checkin_scan_log (scanner, nonce)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="checkin", description=DESCRIPTION)

    async def create_indexes():
        engine = engine_finder()  # the database being migrated, looked up when it runs
        for name, target in UNIQUE_INDEXES.items():
            await engine.run_ddl(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop_indexes():
        engine = engine_finder()
        for name in UNIQUE_INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)

    return manager
