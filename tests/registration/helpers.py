"""Shared bits of the registration tests: a valid person, CSRF tokens, staff sign-in."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import DEFAULT_PASSWORD

CSRF_RE = re.compile(r'name="_csrf_token" value="([^"]+)"')
FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


def person(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid adult registrant; `n` makes the email and phone unique."""
    data: dict[str, Any] = {
        "full_name": f"Budi Santoso {n}",
        "email": f"budi{n}@example.id",
        "phone": f"0812 3{n:03d} {n:04d}",
        "birth_date": "2000-05-17",
        "gender": "male",
        "kecamatan": "Bobotsari",
        "village": "Banjarsari",
        "school": "SMA Negeri 1 Bobotsari",
    }
    data.update(overrides)
    return data


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_token_from(html: str) -> str:
    match = FORM_TOKEN_RE.search(html)
    assert match, "no form_token in the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": email, "password": DEFAULT_PASSWORD, "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]


async def page_csrf(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text[:300]
    return csrf_from(response.text)
