"""Pure checks of what a registrant sends: one message per field, in the user's language.

No database and no clock: the caller passes `today` and the program's date, so every rule
here is tested with hypothesis alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from youth_hub.catalog import KECAMATAN
from youth_hub.i18n import gettext as _
from youth_hub.web.errors import FieldError

FULL_NAME_MAX = 120
EMAIL_MAX = 254
VILLAGE_MAX = 80
SCHOOL_MAX = 120
GUARDIAN_NAME_MAX = 120
ADULT_AGE = 18
EARLIEST_BIRTH = date(1900, 1, 1)
GENDERS = ("female", "male")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_EMAIL_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_EMAIL_TLD = re.compile(r"^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_SEPARATORS = re.compile(r"[ \u00a0\-.()]")  # spaces (also no-break), dashes, dots
_TRUE = {"1", "true", "on", "yes", "y"}
_FALSE = {"", "0", "false", "off", "no", "n"}


def kecamatan_choices() -> tuple[str, ...]:
    """The 18 kecamatan of Purbalingga and "Lainnya", as the catalogue lists them."""
    return KECAMATAN


class Invalid(ValueError):
    """One field's value is wrong; the message is already translated."""


@dataclass(frozen=True)
class RegistrationInput:
    """A registration as stored: trimmed, normalised, checked."""

    full_name: str
    email: str
    phone: str
    birth_date: date
    gender: str | None
    kecamatan: str
    village: str
    school: str
    guardian_name: str
    guardian_phone: str
    guardian_consent: bool

    @property
    def first_name(self) -> str:
        """What a scanner may see: the first word of the name."""
        return self.full_name.split()[0][:60] if self.full_name.split() else ""


def _has_control_characters(text: str) -> bool:
    # Cc: C0/C1 controls incl. newlines and tabs; Cs: lone surrogates; Zl/Zp: line breaks.
    # Cf (format) stays allowed: emoji sequences need the zero-width joiner.
    return any(unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"} for ch in text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(_("Enter this as text."))
    return str(value).strip()


def clean_text(value: Any, *, max_length: int, required: bool) -> str:
    """Trimmed free text (any script, emoji too), without control characters."""
    text = _text(value)
    if not text:
        if required:
            raise Invalid(_("This field is required."))
        return ""
    if len(text) > max_length:
        raise Invalid(_("At most %(max)s characters.", max=max_length))
    if _has_control_characters(text):
        raise Invalid(_("Remove line breaks and control characters."))
    return text


def clean_full_name(value: Any) -> str:
    if not _text(value):
        raise Invalid(_("Enter your full name."))
    return clean_text(value, max_length=FULL_NAME_MAX, required=True)


def clean_email(value: Any) -> str:
    """Lower-cased, trimmed, and shaped like an address someone can receive mail at."""
    text = _text(value).lower()
    if not text:
        raise Invalid(_("Enter your email address."))
    if len(text) > EMAIL_MAX:
        raise Invalid(_("The email address is too long."))
    local, at, domain = text.rpartition("@")
    labels = domain.split(".")
    valid = (
        bool(at)
        and _EMAIL_LOCAL.match(local) is not None
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and len(labels) >= 2
        and all(_EMAIL_LABEL.match(label) for label in labels)
        and _EMAIL_TLD.match(labels[-1]) is not None
    )
    if not valid:
        raise Invalid(_("Enter a valid email address, like nama@contoh.id."))
    return text


def clean_phone(value: Any, *, required: bool = True) -> str:
    """An Indonesian mobile number as +62 8…: accepts 0812…, 62812…, +62 812-…"""
    text = _text(value)
    if not text:
        if required:
            raise Invalid(_("Enter a mobile (WhatsApp) number."))
        return ""
    digits = _PHONE_SEPARATORS.sub("", text)
    if digits.startswith("+62"):
        national = digits[3:]
    elif digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = ""
    if not (national.isascii() and national.isdigit()) or not national.startswith("8"):
        raise Invalid(_("Enter an Indonesian mobile number, like 0812 3456 7890."))
    if not 9 <= len(national) <= 13:
        raise Invalid(_("An Indonesian mobile number has 10 to 14 digits, like 0812 3456 7890."))
    return "+62" + national


def clean_birth_date(value: Any, *, today: date) -> date:
    text = _text(value) if not isinstance(value, date) else value.isoformat()
    if not text:
        raise Invalid(_("Enter your date of birth."))
    if not _DATE.match(text):
        raise Invalid(_("Write the date as YYYY-MM-DD, like 2005-08-17."))
    try:
        born = date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(_("This date does not exist.")) from exc
    if born > today:
        raise Invalid(_("The date of birth cannot be in the future."))
    if born < EARLIEST_BIRTH:
        raise Invalid(_("The date of birth cannot be before 1900."))
    return born


def clean_gender(value: Any) -> str | None:
    text = _text(value).lower()
    if not text:
        return None
    if text not in GENDERS:
        raise Invalid(_("Choose female or male, or leave it empty."))
    return text


def clean_kecamatan(value: Any) -> str:
    text = _text(value)
    if not text:
        raise Invalid(_("Choose your kecamatan."))
    by_key = {choice.casefold(): choice for choice in kecamatan_choices()}
    found = by_key.get(text.casefold())
    if found is None:
        raise Invalid(_("Choose a kecamatan from the list, or Lainnya."))
    return found


def clean_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int):
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid(_("Answer yes or no."))


def age_on(born: date, on: date) -> int:
    """Whole years on `on`. Born on 29 February: the birthday is 1 March in other years."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def validate_registration(
    data: Mapping[str, Any],
    *,
    today: date,
    event_date: date | None = None,
    age_min: int = 0,
    age_max: int = 200,
) -> tuple[RegistrationInput | None, list[FieldError], str | None]:
    """(input, errors, code): every field checked at once; the age and the guardian's consent
    too when the program's date is known. `code` names the rule that failed first
    (`invalid`, `age_out_of_range`, `guardian_consent_required`), None when all is well."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}

    def check(field: str, func: Any, *args: Any, **kwargs: Any) -> None:
        try:
            values[field] = func(data.get(field), *args, **kwargs)
        except Invalid as exc:
            errors.append(FieldError(field, str(exc)))

    check("full_name", clean_full_name)
    check("email", clean_email)
    check("phone", clean_phone)
    check("birth_date", clean_birth_date, today=today)
    check("gender", clean_gender)
    check("kecamatan", clean_kecamatan)
    check("village", clean_text, max_length=VILLAGE_MAX, required=False)
    check("school", clean_text, max_length=SCHOOL_MAX, required=False)
    check("guardian_name", clean_text, max_length=GUARDIAN_NAME_MAX, required=False)
    check("guardian_phone", clean_phone, required=False)
    check("guardian_consent", clean_bool)
    if errors:
        return None, errors, "invalid"

    born: date = values["birth_date"]
    code: str | None = None
    if event_date is not None:
        age = age_on(born, event_date)
        if not age_min <= age <= age_max:
            message = _(
                "This program is for ages %(min)s to %(max)s; on the program's date you will "
                "be %(age)s.",
                min=age_min,
                max=age_max,
                age=age,
            )
            return None, [FieldError("birth_date", message)], "age_out_of_range"
        if age < ADULT_AGE:
            if not values["guardian_name"]:
                errors.append(
                    FieldError(
                        "guardian_name", _("Under 18: enter the name of a parent or guardian.")
                    )
                )
            if not values["guardian_phone"]:
                errors.append(
                    FieldError(
                        "guardian_phone",
                        _("Under 18: enter the phone number of a parent or guardian."),
                    )
                )
            if not values["guardian_consent"]:
                errors.append(
                    FieldError(
                        "guardian_consent",
                        _("Under 18: a parent or guardian must agree to this registration."),
                    )
                )
            if errors:
                code = "guardian_consent_required"
                return None, errors, code
    return RegistrationInput(**values), [], code
