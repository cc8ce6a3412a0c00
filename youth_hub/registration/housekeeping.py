"""What registration keeps only for a while: idempotency answers and /my links."""

from __future__ import annotations

from datetime import datetime, timedelta

from youth_hub.housekeeping import on_housekeeping
from youth_hub.registration.tables import IdempotentRequest, MyTicketsLink

# A client retries within minutes; a week covers a phone that was off for days. After that
# a repeat is refused as a duplicate by email or phone anyway.
IDEMPOTENCY_KEPT = timedelta(days=7)
# Links live 30 minutes; a day after, "expired" and "never existed" answer the same.
MY_LINKS_KEPT_AFTER_EXPIRY = timedelta(days=1)


@on_housekeeping("registration.idempotency")
async def purge_idempotency(now: datetime) -> int:
    gone = (
        await IdempotentRequest.delete()
        .where(IdempotentRequest.created_at < now - IDEMPOTENCY_KEPT)
        .returning(IdempotentRequest.id)
        .run()
    )
    return len(gone)


@on_housekeeping("registration.my_links")
async def purge_my_links(now: datetime) -> int:
    gone = (
        await MyTicketsLink.delete()
        .where(MyTicketsLink.expires_at < now - MY_LINKS_KEPT_AFTER_EXPIRY)
        .returning(MyTicketsLink.id)
        .run()
    )
    return len(gone)
