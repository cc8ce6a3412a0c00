"""Plain ASGI middleware: the request's language, and security headers on every answer."""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from youth_hub.i18n import DEFAULT_LANGUAGE, _current, normalise_language

# No inline scripts or styles anywhere: htmx is configured through a <meta> tag and its
# indicator styles live in app.css. 'wasm-unsafe-eval' lets the scanner's QR decoder run.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "worker-src 'self'",
        "manifest-src 'self'",
    ]
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

LANG_COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600


def _cookie_language(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is not our problem to fail on
                return None
            if LANG_COOKIE in cookie:
                return normalise_language(cookie[LANG_COOKIE].value)
    return None


def _query_language(scope: Scope) -> str | None:
    raw = scope.get("query_string", b"")
    if b"lang=" not in raw:
        return None
    values = parse_qs(raw.decode("latin-1")).get("lang")
    return normalise_language(values[0]) if values else None


def language_and_security_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        chosen = _query_language(scope)
        lang = chosen or _cookie_language(scope) or DEFAULT_LANGUAGE
        token = _current.set(lang)
        secure = b"; Secure" if scope.get("scheme") == "https" else b""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if chosen:  # `?lang=en` switches and sticks
                    cookie = f"{LANG_COOKIE}={chosen}; Path=/; Max-Age={ONE_YEAR}; SameSite=Lax"
                    headers.append((b"set-cookie", cookie.encode() + secure))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        finally:
            _current.reset(token)

    return middleware
