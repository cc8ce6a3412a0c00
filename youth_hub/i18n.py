"""Languages: Bahasa Indonesia first, English available.

Message ids are English; each domain keeps its Indonesian catalogue in
`youth_hub/locale/id/<domain>.po` (one file per domain so work on two domains never
collides). The catalogues are read once at start-up. The current language lives in a
context variable set per request, so services and templates translate alike.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current = contextvars.ContextVar("youth_hub_language", default=DEFAULT_LANGUAGE)


def normalise_language(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()[:2]
    return value if value in LANGUAGES else None


def current_language() -> str:
    return _current.get()


def set_language(lang: str) -> contextvars.Token[str]:
    return _current.set(normalise_language(lang) or DEFAULT_LANGUAGE)


@contextlib.contextmanager
def language(lang: str) -> Iterator[None]:
    """Translate in `lang` for a while (emails go out in the registrant's language)."""
    token = set_language(lang)
    try:
        yield
    finally:
        _current.reset(token)


@cache
def translations(lang: str) -> NullTranslations:
    folder = LOCALE_DIR / lang
    if not folder.is_dir():
        return NullTranslations()
    merged: Translations | None = None
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = Translations(fp=buffer)
        if merged is None:
            merged = loaded
        else:
            merged.merge(loaded)
    return merged or NullTranslations()


def gettext(message: str, **params: object) -> str:
    text = translations(current_language()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext
