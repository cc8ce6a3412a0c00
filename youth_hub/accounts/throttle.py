"""Sign-in throttling: strict per email, generous per client address, in a shared store.

Each attempt is counted *before* the password is checked, so a burst of parallel guesses
cannot all slip in while the first ones are still being verified; a successful sign-in then
takes its own attempt back and clears the email's failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from litestar.stores.base import Store

MAX_FAILURES_PER_EMAIL = 5
# A school or an office signs in from one address: only a flood from it should be stopped.
MAX_FAILURES_PER_ADDRESS = 100
WINDOW_SECONDS = 15 * 60

# One lock per event loop: read-modify-write of a key is atomic within a worker process.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


def _key(kind: str, value: str) -> str:
    # Hashed: e-mail addresses stay out of file names and Redis keys.
    return f"{kind}_{hashlib.sha256(value.encode()).hexdigest()[:40]}"


@dataclass(frozen=True)
class Attempt:
    """A reserved attempt; `allowed` False means: refuse without checking the password."""

    allowed: bool
    email_key: str
    address_key: str
    stamp: float
    retry_after: int = 0


class LoginThrottle:
    def __init__(
        self,
        store: Store,
        *,
        per_email: int = MAX_FAILURES_PER_EMAIL,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: int = WINDOW_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.per_email = per_email
        self.per_address = per_address
        self.window = window
        self.now = now

    async def _stamps(self, key: str, now: float) -> list[float]:
        raw = await self.store.get(key)
        try:
            values = json.loads(raw) if raw else []
        except ValueError:
            values = []
        return [float(v) for v in values if isinstance(v, (int, float)) and v > now - self.window]

    async def _save(self, key: str, stamps: list[float]) -> None:
        if stamps:
            await self.store.set(key, json.dumps(stamps), expires_in=self.window)
        else:
            await self.store.delete(key)

    async def begin(self, email: str, address: str) -> Attempt:
        """Count this attempt, unless the email or the address has failed too often lately."""
        email_key, address_key = _key("email", email), _key("addr", address)
        async with _lock():
            now = self.now()
            by_email = await self._stamps(email_key, now)
            by_address = await self._stamps(address_key, now)
            blocked = [
                s
                for s, limit in ((by_email, self.per_email), (by_address, self.per_address))
                if len(s) >= limit
            ]
            if blocked:
                # Free again when the oldest counted failure leaves the window.
                wait = max(min(s) + self.window - now for s in blocked)
                return Attempt(False, email_key, address_key, now, max(1, int(wait + 0.999)))
            await self._save(email_key, [*by_email, now])
            await self._save(address_key, [*by_address, now])
            return Attempt(True, email_key, address_key, now)

    async def succeeded(self, attempt: Attempt) -> None:
        """A correct password: forget the email's failures and give the address its attempt back."""
        async with _lock():
            await self.store.delete(attempt.email_key)
            stamps = await self._stamps(attempt.address_key, self.now())
            if attempt.stamp in stamps:
                stamps.remove(attempt.stamp)
            await self._save(attempt.address_key, stamps)
