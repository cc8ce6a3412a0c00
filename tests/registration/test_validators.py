"""The pure checks of a registrant's input, with hypothesis for the shapes people type."""

from __future__ import annotations

import string
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from youth_hub.i18n import language
from youth_hub.registration.validators import (
    Invalid,
    age_on,
    clean_birth_date,
    clean_bool,
    clean_email,
    clean_full_name,
    clean_gender,
    clean_kecamatan,
    clean_phone,
    clean_text,
    kecamatan_choices,
    validate_registration,
)

TODAY = date(2026, 12, 1)
CONTROL = [chr(c) for c in (*range(0, 32), 127, *range(0x80, 0xA0))] + ["\u2028", "\u2029"]


def _base(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "full_name": "Siti Aminah",
        "email": "siti@example.id",
        "phone": "081234567890",
        "birth_date": "2000-01-15",
        "kecamatan": "Purbalingga",
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- names

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=120,
).filter(lambda s: s.strip() != "" and len(s.strip()) <= 120)


@given(names)
def test_any_script_and_emoji_name_is_kept_as_written_but_trimmed(name: str) -> None:
    assert clean_full_name(name) == name.strip()


@pytest.mark.parametrize(
    "name",
    [
        "ꦱꦸꦒꦶꦪꦺꦴ",  # Javanese script
        "Ayu 👩🏽‍🎓 Lestari",  # an emoji with skin tone and zero-width joiner
        "<script>alert(1)</script>",
        "{{7*7}}",
        '=HYPERLINK("http://evil")',
    ],
)
def test_hostile_and_unusual_names_are_stored_as_written(name: str) -> None:
    assert clean_full_name(f"  {name} ") == name


@given(names, st.sampled_from(CONTROL))
def test_control_characters_in_names_are_refused(name: str, control: str) -> None:
    with pytest.raises(Invalid):  # inside the name: trimming cannot remove it
        clean_full_name("x" + control + name.strip()[:100] + "x")


@pytest.mark.parametrize("value", ["", "   ", None, "\t\n"])
def test_empty_name_is_refused_with_its_own_message(value: object) -> None:
    with language("id"), pytest.raises(Invalid, match="nama lengkap"):
        clean_full_name(value)


def test_name_longer_than_120_is_refused() -> None:
    assert clean_full_name("a" * 120) == "a" * 120
    with language("id"), pytest.raises(Invalid, match="120"):
        clean_full_name("a" * 121)


@pytest.mark.parametrize("value", [["a"], {"a": 1}, True, 1.5])
def test_non_text_values_are_refused(value: object) -> None:
    with pytest.raises(Invalid):
        clean_full_name(value)


# --------------------------------------------------------------------------- emails

local_parts = st.text(
    alphabet=string.ascii_letters + string.digits + "+_-", min_size=1, max_size=30
)
domains = st.lists(
    st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10),
    min_size=1,
    max_size=3,
)


@given(local_parts, domains, st.sampled_from(["id", "com", "ac.id", "co.id"]))
def test_emails_are_normalised_lower_case_and_trimmed(
    local: str, labels: list[str], tld: str
) -> None:
    address = f"{local}@{'.'.join(labels)}.{tld}"
    messy = f"  {address.upper()} "
    assert clean_email(messy) == address.lower()
    assert clean_email(clean_email(messy)) == address.lower()  # normalising twice changes nothing


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "a@b",
        "a@@b.id",
        "a b@c.id",
        "a@b..id",
        ".a@b.id",
        "a.@b.id",
        "a..b@c.id",
        "a@-b.id",
        "a@b.i",
        "a@b.123",
        "<a@b.id>",
        "a@b.id\nBcc: x@y.id",
        "x" * 65 + "@b.id",
        "a@" + "b" * 250 + ".id",
    ],
)
def test_malformed_emails_are_refused(value: str) -> None:
    with pytest.raises(Invalid):
        clean_email(value)


# --------------------------------------------------------------------------- phones

nationals = st.text(alphabet=string.digits, min_size=8, max_size=12).map(lambda d: "8" + d)


def _spaced(digits: str, seps: list[str]) -> str:
    out = []
    for i, ch in enumerate(digits):
        out.append(ch)
        if i < len(seps) and seps[i]:
            out.append(seps[i])
    return "".join(out)


@given(
    nationals,
    st.sampled_from(["0", "62", "+62", "+62 "]),
    st.lists(st.sampled_from(["", "", " ", "-"]), max_size=14),
)
def test_indonesian_mobile_numbers_normalise_to_plus_62(
    national: str, prefix: str, seps: list[str]
) -> None:
    typed = prefix + _spaced(national, seps)
    assert clean_phone(typed) == "+62" + national


@pytest.mark.parametrize(
    "typed", ["0812-3456-7890", "62812 3456 7890", "+62 812-3456-7890", "(0812) 3456.7890"]
)
def test_usual_ways_of_writing_a_number(typed: str) -> None:
    assert clean_phone(typed) == "+6281234567890"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12345",
        "0212345678",  # a landline: not a WhatsApp number
        "08123",
        "0812345678901234",  # too short, too long
        "+1 812 3456 7890",
        "0812abc4567",
        "٠٨١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits
        "08 12\n3456 7890",
    ],
)
def test_numbers_that_are_not_indonesian_mobiles_are_refused(typed: str) -> None:
    with pytest.raises(Invalid):
        clean_phone(typed)


def test_optional_phone_may_be_empty() -> None:
    assert clean_phone("", required=False) == ""


# --------------------------------------------------------------------------- dates


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_any_real_past_date_is_accepted(born: date) -> None:
    assert clean_birth_date(born.isoformat(), today=TODAY) == born


@given(st.dates(min_value=TODAY + timedelta(days=1), max_value=date(2999, 12, 31)))
def test_future_birth_dates_are_refused(born: date) -> None:
    with language("id"), pytest.raises(Invalid, match="masa depan"):
        clean_birth_date(born.isoformat(), today=TODAY)


@pytest.mark.parametrize(
    "typed", ["2023-02-29", "2023-02-30", "2024-13-01", "2024-04-31", "2024-00-10"]
)
def test_impossible_dates_are_refused(typed: str) -> None:
    with language("id"), pytest.raises(Invalid, match="tidak ada"):
        clean_birth_date(typed, today=TODAY)


@pytest.mark.parametrize(
    "typed", ["17-08-2005", "2005/08/17", "2005-8-17", "yesterday", "20050817", "2005-08-17T00:00"]
)
def test_dates_in_other_formats_are_refused(typed: str) -> None:
    with language("id"), pytest.raises(Invalid, match="TTTT-BB-HH"):
        clean_birth_date(typed, today=TODAY)


def test_dates_before_1900_are_refused() -> None:
    with pytest.raises(Invalid):
        clean_birth_date("1899-12-31", today=TODAY)
    assert clean_birth_date("2024-02-29", today=TODAY) == date(2024, 2, 29)


# --------------------------------------------------------------------------- age


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    st.integers(min_value=0, max_value=100),
)
def test_age_is_whole_years_on_the_day(born: date, years: int) -> None:
    assume(not (born.month == 2 and born.day == 29))
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:
        return
    assert age_on(born, birthday) == years
    assert age_on(born, birthday - timedelta(days=1)) == years - 1


def test_born_on_29_february_turns_older_on_1_march_in_other_years() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2026, 2, 28)) == 17
    assert age_on(born, date(2026, 3, 1)) == 18
    assert age_on(born, date(2028, 2, 28)) == 19
    assert age_on(born, date(2028, 2, 29)) == 20


# --------------------------------------------------------------------------- other fields


def test_gender_is_optional_and_closed() -> None:
    assert clean_gender("") is None and clean_gender(None) is None
    assert clean_gender("Female") == "female"
    with pytest.raises(Invalid):
        clean_gender("other")


def test_kecamatan_comes_from_the_list_or_lainnya() -> None:
    choices = kecamatan_choices()
    assert len(choices) == 19 and choices[-1] == "Lainnya" and "Kutasari" in choices
    assert clean_kecamatan(" kutasari ") == "Kutasari"
    assert clean_kecamatan("LAINNYA") == "Lainnya"
    with pytest.raises(Invalid):
        clean_kecamatan("Sleman")


@pytest.mark.parametrize(
    "value,expected",
    [
        (True, True),
        ("on", True),
        ("1", True),
        ("true", True),
        (False, False),
        ("", False),
        (None, False),
        ("0", False),
    ],
)
def test_consent_reads_checkboxes_and_json(value: object, expected: bool) -> None:
    assert clean_bool(value) is expected


def test_consent_refuses_other_values() -> None:
    with pytest.raises(Invalid):
        clean_bool("perhaps")


def test_optional_texts_have_limits() -> None:
    assert clean_text("", max_length=80, required=False) == ""
    with pytest.raises(Invalid):
        clean_text("x" * 81, max_length=80, required=False)


# --------------------------------------------------------------------------- the whole form


def test_every_bad_field_gets_its_own_message_in_indonesian() -> None:
    with language("id"):
        clean, errors, code = validate_registration(
            _base(
                full_name="",
                email="nope",
                phone="123",
                birth_date="2023-02-30",
                kecamatan="Atlantis",
                gender="x",
                village="v" * 81,
                school="s" * 121,
            ),
            today=TODAY,
        )
    assert clean is None and code == "invalid"
    fields = {e.field: e.message for e in errors}
    assert set(fields) == {
        "full_name",
        "email",
        "phone",
        "birth_date",
        "kecamatan",
        "gender",
        "village",
        "school",
    }
    assert "nama lengkap" in fields["full_name"]
    assert "tidak ada" in fields["birth_date"]


def test_messages_are_english_with_lang_en() -> None:
    with language("en"):
        _clean, errors, _code = validate_registration(_base(email="nope"), today=TODAY)
    assert errors[0].message.startswith("Enter a valid email address")


def test_age_is_checked_at_the_program_date() -> None:
    event = date(2026, 12, 20)
    # 16 on the program's date (birthday on 20 December): in range 16..30
    clean, errors, _ = validate_registration(
        _base(
            birth_date="2010-12-20",
            guardian_name="Ibu",
            guardian_phone="0812 1111 2222",
            guardian_consent="1",
        ),
        today=TODAY,
        event_date=event,
        age_min=16,
        age_max=30,
    )
    assert clean is not None and not errors
    # one day younger: 15 on that date
    clean, errors, code = validate_registration(
        _base(birth_date="2010-12-21"), today=TODAY, event_date=event, age_min=16, age_max=30
    )
    assert clean is None and code == "age_out_of_range" and errors[0].field == "birth_date"
    # 31 on that date: too old
    _clean, _errors, code = validate_registration(
        _base(birth_date="1995-12-20"), today=TODAY, event_date=event, age_min=16, age_max=30
    )
    assert code == "age_out_of_range"


def test_minor_needs_guardian_name_phone_and_consent() -> None:
    event = date(2026, 12, 20)
    minor = _base(birth_date="2010-01-01")
    clean, errors, code = validate_registration(
        minor, today=TODAY, event_date=event, age_min=13, age_max=30
    )
    assert clean is None and code == "guardian_consent_required"
    assert {e.field for e in errors} == {"guardian_name", "guardian_phone", "guardian_consent"}
    clean, errors, code = validate_registration(
        {
            **minor,
            "guardian_name": "Ibu Sri",
            "guardian_phone": "0813 2222 3333",
            "guardian_consent": False,
        },
        today=TODAY,
        event_date=event,
        age_min=13,
        age_max=30,
    )
    assert clean is None and [e.field for e in errors] == ["guardian_consent"]
    clean, errors, code = validate_registration(
        {
            **minor,
            "guardian_name": "Ibu Sri",
            "guardian_phone": "0813 2222 3333",
            "guardian_consent": True,
        },
        today=TODAY,
        event_date=event,
        age_min=13,
        age_max=30,
    )
    assert clean is not None and clean.guardian_phone == "+6281322223333" and code is None


def test_adults_need_no_guardian() -> None:
    clean, errors, _ = validate_registration(
        _base(), today=TODAY, event_date=date(2026, 12, 20), age_min=16, age_max=30
    )
    assert clean is not None and not errors
    assert clean.first_name == "Siti"
