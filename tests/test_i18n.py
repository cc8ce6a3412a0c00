"""Every message the code or a template shows has its Indonesian translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from youth_hub.i18n import LOCALE_DIR, gettext, language

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _extracted() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder, method in (("youth_hub", "python"), ("templates", "jinja2.ext:babel_extract")):
        pattern = "**.py" if method == "python" else "**.html"
        other = "**.txt" if method != "python" else None
        method_map = [(pattern, method)] + ([(other, method)] if other else [])
        options = {
            "**.html": {"extensions": "jinja2.ext.i18n"},
            "**.txt": {"extensions": "jinja2.ext.i18n"},
        }
        for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=method_map, options_map=options, keywords=KEYWORDS
        ):
            ids = message if isinstance(message, tuple) else (message,)
            for msgid in ids:
                if msgid:
                    found.setdefault(msgid, f"{folder}/{filename}:{lineno}")
    return found


def _indonesian_catalogue() -> dict[str, str]:
    translated: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / "id").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="id"):
                if not message.id:
                    continue
                ids = message.id if isinstance(message.id, tuple) else (message.id,)
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if all(strings):
                    for msgid in ids:
                        translated[msgid] = strings[0]
    return translated


def test_every_message_has_an_indonesian_translation() -> None:
    extracted = _extracted()
    assert extracted, "the extractor found no messages at all"
    catalogue = _indonesian_catalogue()
    missing = {msgid: where for msgid, where in extracted.items() if msgid not in catalogue}
    assert not missing, "untranslated (add to youth_hub/locale/id/<domain>.po):\n" + "\n".join(
        f"  {where}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda i: i[1])
    )


def test_language_context_switches_translation() -> None:
    with language("id"):
        assert gettext("Free") == "Gratis"
    with language("en"):
        assert gettext("Free") == "Free"


def test_no_message_is_translated_two_ways() -> None:
    """Catalogues are merged; a message id in two domains must read the same in both."""
    seen: dict[str, set[str]] = {}
    for path in sorted((LOCALE_DIR / "id").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="id"):
                if message.id and isinstance(message.id, str):
                    seen.setdefault(message.id, set()).add(str(message.string))
    conflicts = {msgid: texts for msgid, texts in seen.items() if len(texts) > 1}
    assert not conflicts, conflicts
