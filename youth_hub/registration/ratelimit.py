"""A strict limit per email and per phone, on top of the generous per-address one.

A school's pupils share one address, so the address limit must be generous; one address must
still not hammer one identity. Counts live in a Litestar store shared by the workers (files
on one host, Redis across hosts). Get-then-set is not atomic: under a race a few extra
attempts may pass, which a rate limit can afford (seats are protected by the database).
"""

from __future__ import annotations

import hashlib
import time

from litestar.stores.base import Store

from youth_hub.registration.services import too_many_attempts

STORE_NAME = "rate_limit_identity"
ATTEMPTS = 5
WINDOW_SECONDS = 600


class IdentityLimiter:
    def __init__(
        self, store: Store, *, attempts: int = ATTEMPTS, window: int = WINDOW_SECONDS
    ) -> None:
        self.store = store
        self.attempts = attempts
        self.window = window

    def _key(self, kind: str, value: str, window_index: int) -> str:
        # Hashed: the store (files, Redis) never holds the addresses themselves.
        digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]
        return f"{kind}_{digest}_{window_index}"

    async def hit(self, **identities: str) -> None:
        """Count one attempt for each identity (field name -> value); raise 429 naming the
        first field over its limit. Fixed windows of `window` seconds."""
        window_index = int(time.time() // self.window)
        over: str | None = None
        for field, value in identities.items():
            if not value:
                continue
            key = self._key(field, value, window_index)
            raw = await self.store.get(key)
            count = int(raw) + 1 if raw and raw.isdigit() else 1
            await self.store.set(key, str(count), expires_in=self.window)
            if count > self.attempts and over is None:
                over = field
        if over is not None:
            raise too_many_attempts(over)
