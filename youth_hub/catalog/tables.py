"""Programs of the three kinds, their sessions or itinerary stops, and topic tags."""

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from youth_hub.accounts.tables import StaffUser


class Program(Table, tablename="catalog_program"):
    id: Serial
    slug = Varchar(length=120, unique=True, index=True)
    kind = Varchar(length=10, index=True)  # "workshop", "sport" or "tour"
    title = Varchar(length=160)
    summary = Varchar(length=300, default="")
    description = Text(default="")
    organiser = ForeignKey(references=StaffUser, null=True)
    venue = Varchar(length=200, default="")
    kecamatan = Varchar(length=60, default="", index=True)
    latitude = Real(null=True, default=None)
    longitude = Real(null=True, default=None)
    capacity = Integer(default=0)
    # Taken by one conditional UPDATE (seats_taken < capacity), never by counting rows.
    seats_taken = Integer(default=0)
    waitlist_limit = Integer(null=True, default=None)  # None: unlimited
    waitlist_taken = Integer(default=0)
    price_idr = Integer(default=0)
    age_min = Integer(default=16)
    age_max = Integer(default=30)
    registration_opens_at = Timestamptz(null=True, default=None)
    registration_closes_at = Timestamptz(null=True, default=None)
    # draft, published, finished or cancelled
    status = Varchar(length=12, default="draft", index=True)
    # Denormalised from the sessions so the catalogue sorts and filters in one query.
    first_starts_at = Timestamptz(null=True, default=None, index=True)
    last_ends_at = Timestamptz(null=True, default=None)
    checkin_opens_minutes_before = Integer(default=120)
    reminder_offsets = Varchar(length=60, default="")  # "" = YOUTH_HUB_REMINDER_OFFSETS
    published_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ProgramSession(Table, tablename="catalog_session"):
    """A workshop or sport session, or a timed stop of a tour's itinerary (with its day)."""

    id: Serial
    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    title = Varchar(length=160)
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    location = Varchar(length=200, default="")
    day = Integer(null=True, default=None)  # tours: day 1, 2, ... of the itinerary
    checkin = Boolean(default=False)


class ProgramTopic(Table, tablename="catalog_topic"):
    id: Serial
    program = ForeignKey(references=Program, on_delete=OnDelete.cascade, index=True)
    topic = Varchar(length=40, index=True)
