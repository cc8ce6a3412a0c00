"""Signing in from tests: `await sign_in(client, email, password)` (usable by every domain)."""

from __future__ import annotations

import re
from typing import Any

from httpx import Response

from tests.factories import DEFAULT_PASSWORD
from youth_hub.i18n import gettext, language

_CSRF_INPUT = re.compile(r'name="_csrf_token"\s+value="([^"]+)"')
SESSION_COOKIE = "yh_session"
CSRF_COOKIE = "yh_csrf"


def csrf_from(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = _CSRF_INPUT.search(html)
    assert match, "the page has no _csrf_token hidden input"
    return match.group(1)


async def csrf_token(client: Any, path: str = "/login") -> str:
    """GET `path` (which sets the CSRF cookie) and read the token from its hidden input.

    When `path` redirects (GET /login while signed in), the cookie's value is the token."""
    response = await client.get(path, follow_redirects=False)
    if response.status_code == 200:
        return csrf_from(response.text)
    cookie = client.cookies.get(CSRF_COOKIE)
    assert cookie, (path, response.status_code, "no CSRF cookie either")
    return str(cookie)


async def sign_in(
    client: Any,
    email: str,
    password: str = DEFAULT_PASSWORD,
    *,
    next_path: str | None = None,
    check: bool = True,
) -> Response:
    """Sign in through the real form. With `check`, fails the test unless the answer is 303."""
    token = await csrf_token(client, "/login")
    data = {"email": email, "password": password, "_csrf_token": token}
    if next_path is not None:
        data["next"] = next_path
    response: Response = await client.post("/login", data=data, follow_redirects=False)
    if check:
        assert response.status_code == 303, (response.status_code, response.text[:500])
    return response


def indonesian(msgid: str) -> str:
    """The Indonesian text a page shows for `msgid` (domains' catalogues may share a msgid)."""
    with language("id"):
        text = gettext(msgid)
    assert text != msgid, f"no Indonesian translation for {msgid!r}"
    return text


def set_cookie_value(response: Response, name: str = SESSION_COOKIE) -> str | None:
    """The value a response's Set-Cookie gives `name` ("null" when it expires it), or None."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None


def set_cookie_header(response: Response, name: str = SESSION_COOKIE) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.split("=", 1)[0].strip() == name:
            return header
    raise AssertionError(f"no Set-Cookie for {name}")
