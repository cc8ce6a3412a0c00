"""Scanner assignments, check-ins (one per ticket and session) and the append-only scan log.

Piccolo cannot add a multi-column UNIQUE on SQLite (no ALTER TABLE ... ADD CONSTRAINT), so the
unique indexes that make the rules hold under concurrency are created by raw SQL in this app's
migration: UNIQUE(program, user) on assignments, UNIQUE(registration, session) on check-ins,
UNIQUE(scanner, nonce) on the scan log (NULL nonces stay distinct on both databases).
"""

from piccolo.columns import (
    JSON,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from youth_hub.accounts.tables import StaffUser
from youth_hub.catalog.tables import Program, ProgramSession
from youth_hub.registration.tables import Registration


class ScannerAssignment(Table, tablename="checkin_scanner_assignment"):
    """A staff member who may scan tickets of one program."""

    id: Serial
    program = ForeignKey(references=Program, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=StaffUser, null=False, on_delete=OnDelete.cascade, index=True)
    assigned_by = ForeignKey(references=StaffUser, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class CheckIn(Table, tablename="checkin_checkin"):
    """A ticket admitted to one session or stop; the unique index allows exactly one."""

    id: Serial
    registration = ForeignKey(
        references=Registration, null=False, on_delete=OnDelete.cascade, index=True
    )
    session = ForeignKey(
        references=ProgramSession, null=False, on_delete=OnDelete.cascade, index=True
    )
    # Denormalised so counts per program need no join.
    program = ForeignKey(references=Program, null=False, on_delete=OnDelete.cascade, index=True)
    # When the person was admitted: the server's time online, the device's scan time offline.
    checked_in_at = Timestamptz()
    # What the device said (offline scans); the server's time for online scans.
    scanned_at = Timestamptz()
    # When the server recorded it: undo is measured from here.
    recorded_at = Timestamptz(default=TimestamptzNow())
    device_id = Varchar(length=64, default="")
    scanner = ForeignKey(references=StaffUser, null=True, on_delete=OnDelete.set_null)
    nonce = Varchar(length=80, null=True, default=None)
    source = Varchar(length=8, default="scan")  # scan, manual, offline


class ScanLog(Table, tablename="checkin_scan_log"):
    """Every scan, refusals included, plus `duplicate` and `undone` entries. Never updated.

    Ticket and session are plain ids, not foreign keys: a refused scan may name a ticket that
    does not exist, and the history must outlive a deleted session.
    """

    id: Serial
    at = Timestamptz(default=TimestamptzNow(), index=True)
    program = ForeignKey(references=Program, null=True, on_delete=OnDelete.cascade, index=True)
    session_id = Integer(null=True, default=None)
    ticket_id = Integer(null=True, default=None, index=True)
    # SHA-256 of the scanned text, so a refused forgery can be traced without storing it.
    payload_hash = Varchar(length=64, default="")
    result = Varchar(length=24, index=True)
    scanner = ForeignKey(references=StaffUser, null=True, on_delete=OnDelete.set_null)
    device_id = Varchar(length=64, default="")
    nonce = Varchar(length=80, null=True, default=None)
    source = Varchar(length=8, default="scan")
    scanned_at = Timestamptz(null=True, default=None)
    # The answer given, so a retry with the same nonce gets exactly the first answer.
    response = JSON(default={})
