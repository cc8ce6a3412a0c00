"""Accounts fixtures: a spy on the password hasher."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from youth_hub.accounts import passwords


class CountingHasher:
    """Wraps the real argon2 hasher and records which hash each verification used."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real = real
        self.verified: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return self.real.verify(password_hash, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    spy = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    return spy
