"""Check-in tests see redirects as they are (sign-in, form posts answering 303)."""

from __future__ import annotations

import pytest


@pytest.fixture
def client_follows_redirects() -> bool:
    return False
