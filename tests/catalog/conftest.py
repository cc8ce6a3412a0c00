"""The catalogue tests look at redirects as they are (303 after a form, Location)."""

import pytest


@pytest.fixture
def client_follows_redirects() -> bool:
    return False
